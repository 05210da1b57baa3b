using System.Text.Json;
using CpuidFunctional.Cli;

namespace CpuidFunctional.Properties.CliTool;

/// <summary>The cpuidf verbs run in-process: exit codes and what they print.</summary>
public class CpuidfTests
{
    private static (int Exit, string Output, string Error) Cpuidf(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var exit = new CpuidfApp(output, error).Run(args);
        return (exit, output.ToString(), error.ToString());
    }

    private static string Scenario(string name) => Path.Combine(Scenarios.RepositoryFiles.ScenarioFolder, name);

    [Fact]
    public void Host_json_gives_the_standard_and_compacted_sizes_of_spec_section_2()
    {
        var (exit, output, _) = Cpuidf("host", "sapphire-rapids", "--xcr0", "0x602e7", "--json");

        Assert.Equal(ExitCodes.Ok, exit);
        using var json = JsonDocument.Parse(output);
        Assert.Equal(11008, json.RootElement.GetProperty("standardSize").GetInt32());
        Assert.Equal(10752, json.RootElement.GetProperty("compactedSize").GetInt32());
    }

    [Fact]
    public void Host_adds_xss_to_the_compacted_size_only()
    {
        var (exit, output, _) = Cpuidf("host", "skylake-sp", "--xcr0", "0x2e7", "--xss", "0x100", "--json");

        Assert.Equal(ExitCodes.Ok, exit);
        using var json = JsonDocument.Parse(output);
        Assert.Equal(2696, json.RootElement.GetProperty("standardSize").GetInt32());
        Assert.Equal(2568, json.RootElement.GetProperty("compactedSize").GetInt32());
    }

    [Fact]
    public void Run_passes_a_passing_scenario_with_exit_code_0()
    {
        var (exit, output, _) = Cpuidf("run", Scenario("cr4_cpuid_sync.scn"));

        Assert.Equal(ExitCodes.Ok, exit);
        Assert.Contains("cr4_cpuid_sync.scn: passed", output, StringComparison.Ordinal);
        Assert.Contains("1 passed, 0 failed", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_with_policies_named_replays_a_scenario_under_lazy_unfixed_and_the_KVM_SET_CPUID2_fix_shows()
    {
        var (unfixed, output, _) = Cpuidf("run", "--policy", "eager", "--policy", "lazy-unfixed", Scenario("cpuid_set_after_run.scn"));

        Assert.Equal(ExitCodes.Failed, unfixed);
        Assert.Contains("eager: ok 0; lazy-unfixed: -EINVAL", output, StringComparison.Ordinal);
        Assert.Contains("0 passed, 1 failed", output, StringComparison.Ordinal);

        var (fixedLazy, fixedOutput, _) = Cpuidf("run", "--policy", "eager", "--policy", "lazy", Scenario("cpuid_set_after_run.scn"));
        Assert.Equal(ExitCodes.Ok, fixedLazy);
        Assert.DoesNotContain("caught by", fixedOutput, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_reports_a_failing_scenario_with_file_line_and_values_and_exit_code_1()
    {
        var file = Path.Combine(Path.GetTempPath(), $"failing-{Guid.NewGuid():N}.scn");
        File.WriteAllText(file, "host skylake-sp\nguest-cpuid host\nset-cpuid2\nmov-cr4 OSXSAVE\ncpuid 1\nexpect ecx.OSXSAVE=0\n");
        try
        {
            var (exit, output, _) = Cpuidf("run", file);

            Assert.Equal(ExitCodes.Failed, exit);
            Assert.Contains($"{Path.GetFileName(file)}:6: expect ecx.OSXSAVE=0: after 'CPUID 0x1.0x0' ecx.27: expected 0, got 1", output, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Theory]
    [InlineData(new[] { "host", "pentium-4" }, "unknown host preset 'pentium-4'")]
    [InlineData(new[] { "host", "skylake-sp", "--xcr0", "0xnope" }, "--xcr0: bad number '0xnope'")]
    [InlineData(new[] { "host", "skylake-sp", "--xcr0", "0x60001" }, "the host does not support")]
    [InlineData(new[] { "host", "/no/such/dump.txt" }, "/no/such/dump.txt: cannot read the file")]
    [InlineData(new[] { "run", "/no/such/file.scn" }, "/no/such/file.scn: cannot read the file")]
    [InlineData(new[] { "check", "--kernel", "5.4" }, "--kernel: unknown kernel '5.4' (expected one of 6.15, 6.18)")]
    [InlineData(new[] { "check", "--shard", "3/2" }, "--shard: expected I/N")]
    [InlineData(new[] { "frobnicate" }, "Unrecognized command or argument 'frobnicate'")]
    [InlineData(new[] { "random", "--traces", "0" }, "--traces: must be at least 1")]
    [InlineData(new[] { "check", "--no-quirk-guard" }, "--no-quirk-guard: only the yardstick (--yardstick) has a quirk guard")]
    [InlineData(new[] { "host", "skylake-sp", "--xcr0", "0x4" }, "--xcr0 0x4 has x87 (bit 0) clear")]
    public void Bad_input_is_a_clear_error_with_exit_code_2(string[] args, string message)
    {
        var (exit, _, error) = Cpuidf(args);

        Assert.Equal(ExitCodes.BadInput, exit);
        Assert.Contains(message, error, StringComparison.Ordinal);
    }

    [Fact]
    public void An_expect_before_any_step_is_bad_input_at_its_line_not_a_failed_run()
    {
        using var file = CliRunner.Temp("host skylake-sp\nexpect nothing\ncpuid 1\n"u8, ".scn");

        var (exit, _, error) = Cpuidf("run", file.Path);

        Assert.Equal(ExitCodes.BadInput, exit);
        Assert.Contains($"{Path.GetFileName(file.Path)}:2: 'expect' before any step", error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_malformed_scenario_names_file_and_line()
    {
        var file = Path.Combine(Path.GetTempPath(), $"malformed-{Guid.NewGuid():N}.scn");
        File.WriteAllText(file, "host skylake-sp\nmov-cr4 0xZZ\n");
        try
        {
            var (exit, _, error) = Cpuidf("run", file);

            Assert.Equal(ExitCodes.BadInput, exit);
            Assert.Contains($"{Path.GetFileName(file)}:2: bad number '0xZZ'", error, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Theory]
    [InlineData("host")]
    [InlineData("run")]
    [InlineData("check")]
    [InlineData("exec")]
    [InlineData("random")]
    public void Every_verb_has_help(string verb)
    {
        var (exit, output, _) = Cpuidf(verb, "--help");

        Assert.Equal(ExitCodes.Ok, exit);
        Assert.Contains("Usage:", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Check_finds_the_lazy_unfixed_counterexample_with_exit_code_1()
    {
        var (exit, output, _) = Cpuidf("check", "--host", "skylake-sp", "--kernel", "6.15", "--policy", "eager", "lazy-unfixed", "--chain");

        Assert.Equal(ExitCodes.Failed, exit);
        Assert.Contains("1. MOV CR4, 0x40000", output, StringComparison.Ordinal);
        Assert.Contains("2. KVM_SET_CPUID2", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Check_with_the_VMRUN_bug_on_an_AMD_host_finds_a_VMRUN_counterexample_with_exit_code_1()
    {
        var (exit, output, _) = Cpuidf("check", "--host", "genoa", "--kernel", "6.18", "--chain", "--bug", "VmrunCr4NotTrigger");

        Assert.Equal(ExitCodes.Failed, exit);
        Assert.Contains("lazy+VmrunCr4NotTrigger", output, StringComparison.Ordinal);
        Assert.Contains("1. VMRUN save.cr4=", output, StringComparison.Ordinal);
        Assert.Contains("policies differ", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Check_refuses_a_bug_without_Lazy_or_with_the_yardstick()
    {
        var (exit, _, error) = Cpuidf("check", "--host", "genoa", "--policy", "eager", "reference", "--bug", "VmrunCr4NotTrigger");
        Assert.Equal(ExitCodes.BadInput, exit);
        Assert.Contains("--bug: the bug is injected into Lazy", error, StringComparison.Ordinal);

        (exit, _, error) = Cpuidf("check", "--yardstick", "--bug", "VmrunCr4NotTrigger");
        Assert.Equal(ExitCodes.BadInput, exit);
        Assert.Contains("--bug: the yardstick", error, StringComparison.Ordinal);
    }
}
