namespace CpuidFunctional.Properties.Fuzz;

/// <summary>
/// The fuzz harness (docs/testing.md, "Fuzzing"): about 30 s in a default run, as long as <c>CPUIDF_FUZZ_SECONDS</c>
/// says otherwise. Each test prints its volume; a failure names its (seed, index) and the reproducer file.
/// </summary>
[Trait("Category", Fuzzer.Category)]
public class FuzzTests
{
    private static void AssertClean(FuzzReport report)
    {
        TestContext.Current.TestOutputHelper?.WriteLine(report.ToString());
        Assert.True(report.Failures.Count == 0, string.Join("\n", report.Failures));
        Assert.True(report.Cases > 0, "no case ran");
    }

    [Fact]
    public void Interpreter_programs_escape_nothing_and_every_correct_policy_agrees() =>
        AssertClean(Fuzzer.Run(ProgramFuzz.Target("program", Policy.Correct), 0.3));

    [Fact]
    public void Mutated_scenarios_parse_and_run_without_an_escaping_exception_or_a_hang() =>
        AssertClean(Fuzzer.Run(TextFuzz.Scenario, 0.1));

    [Fact]
    public void Mutated_dumps_import_in_both_formats_without_an_escaping_exception_or_a_hang() =>
        AssertClean(Fuzzer.Run(TextFuzz.Dump, 0.1));
}
