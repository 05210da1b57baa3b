using CpuidFunctional.Core.Scenarios;

namespace CpuidFunctional.Properties.Scenarios;

/// <summary>The nested SVM scenario lines: <c>vmrun CR4 [intercept-cpuid] [intercept-xsetbv]</c>, <c>svm-vmexit</c>, <c>expect svm-exit CODE</c>.</summary>
public class SvmScenarioLineTests
{
    private static Scenario Parsed(string text) => Assert.IsType<Result<Scenario>.Ok>(ScenarioParser.Parse(text, "t.scn")).Value;

    [Fact]
    public void Vmrun_carries_save_cr4_and_the_intercept_words_and_svm_vmexit_nothing()
    {
        var s = Parsed("host genoa\nvmrun OSXSAVE|PAE intercept-xsetbv INTERCEPT-CPUID\nsvm-vmexit\nvmrun 0\n");

        Assert.Equal(new VcpuEvent.NestedSvmVmrun(Cr4.OsXsave | Cr4.Pae, Vmcb12Intercepts.Cpuid | Vmcb12Intercepts.Xsetbv), ((ScenarioStep.Apply)s.Steps[0]).Event);
        Assert.Equal(new VcpuEvent.NestedSvmVmexit(), ((ScenarioStep.Apply)s.Steps[1]).Event);
        Assert.Equal(new VcpuEvent.NestedSvmVmrun(0, Vmcb12Intercepts.None), ((ScenarioStep.Apply)s.Steps[2]).Event);
    }

    [Theory]
    [InlineData("cpuid", SvmExitCode.Cpuid)]
    [InlineData("XSETBV", SvmExitCode.Xsetbv)]
    [InlineData("vmrun", SvmExitCode.Vmrun)]
    [InlineData("0x81", SvmExitCode.Vmmcall)]
    public void Expect_svm_exit_takes_a_name_or_a_code(string word, ulong code)
    {
        var s = Parsed($"host genoa\ncpuid 1\nexpect svm-exit {word}\n");

        Assert.Equal(new Expectation.Exactly(new Observation.SvmExitToL1(code)), ((ScenarioStep.Expect)s.Steps[1]).Expected);
    }

    [Theory]
    [InlineData("host genoa\nvmrun\n", "usage: vmrun CR4")]
    [InlineData("host genoa\nvmrun PAE intercept-hlt\n", "'intercept-hlt': usage: vmrun CR4")]
    [InlineData("host genoa\nsvm-vmexit PAE\n", "usage: svm-vmexit")]
    [InlineData("host genoa\ncpuid 1\nexpect svm-exit hlt\n", "bad number 'hlt'")]
    [InlineData("host genoa\nvmrun 0x100000020 intercept-cpuid\n", "vmcb12's save.cr4 has a bit of 63:32 set")]
    public void Malformed_svm_lines_are_errors_naming_line_2_or_3(string text, string message)
    {
        var error = Assert.IsType<Result<Scenario>.Error>(ScenarioParser.Parse(text, "t.scn")).Problem;

        Assert.Equal(text.Count(c => c == '\n'), error.Line);
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }
}
