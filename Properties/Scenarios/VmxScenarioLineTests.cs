using CpuidFunctional.Core.Scenarios;

namespace CpuidFunctional.Properties.Scenarios;

/// <summary>The nested VMX scenario lines: <c>vmentry CR4 [mask=V] [shadow=V] [MSR=V ...]</c> and <c>expect exit-to-l1 REASON</c>.</summary>
public class VmxScenarioLineTests
{
    private static Scenario Parsed(string text) => Assert.IsType<Result<Scenario>.Ok>(ScenarioParser.Parse(text, "t.scn")).Value;

    [Fact]
    public void Vmentry_carries_the_CR4_mask_and_read_shadow_anywhere_among_the_MSR_load_entries()
    {
        var s = Parsed("host skylake-sp\nvmentry PAE XSS=0 shadow=PKE MASK=OSXSAVE|PKE\nvmentry PAE\n");

        var expected = new VcpuEvent.NestedVmEntry(Cr4.Pae, new([new MsrEntry(Msr.Xss, 0)])) { Cr4GuestHostMask = Cr4.OsXsave | Cr4.Pke, Cr4ReadShadow = Cr4.Pke };
        Assert.Equal(expected, ((ScenarioStep.Apply)s.Steps[0]).Event);
        Assert.Equal(new VcpuEvent.NestedVmEntry(Cr4.Pae), ((ScenarioStep.Apply)s.Steps[1]).Event);
    }

    [Fact]
    public void A_nested_CR4_may_use_all_of_bits_31_to_0_but_none_above()
    {
        var s = Parsed("host skylake-sp\nvmentry 0xFFFFFFFF\nvmexit 0xFFFFFFFF\n");

        Assert.Equal(new VcpuEvent.NestedVmEntry(0xFFFF_FFFF), ((ScenarioStep.Apply)s.Steps[0]).Event);
        Assert.Equal(new VcpuEvent.NestedVmExit(0xFFFF_FFFF), ((ScenarioStep.Apply)s.Steps[1]).Event);
        Assert.IsType<Result<Scenario>.Error>(ScenarioParser.Parse("host skylake-sp\nvmentry 0x100000000\n", "t.scn"));
    }

    [Theory]
    [InlineData("cpuid", 10u)]
    [InlineData("XSETBV", 55u)]
    [InlineData("cr-access", 28u)]
    [InlineData("30", 30u)]
    public void Expect_exit_to_l1_takes_a_name_or_a_basic_exit_reason(string word, uint reason)
    {
        var s = Parsed($"host skylake-sp\ncpuid 1\nexpect exit-to-l1 {word}\n");

        Assert.Equal(new Expectation.Exactly(new Observation.ExitToL1(reason)), ((ScenarioStep.Expect)s.Steps[1]).Expected);
    }

    [Theory]
    [InlineData("host skylake-sp\nvmentry PAE mask=1 mask=2\n", "mask given twice")]
    [InlineData("host skylake-sp\nvmentry PAE shadow=0xZZ\n", "bad number '0xZZ'")]
    [InlineData("host skylake-sp\ncpuid 1\nexpect exit-to-l1 0x10000\n", "not a basic exit reason")]
    [InlineData("host skylake-sp\ncpuid 1\nexpect exit-to-l1 hlt\n", "bad number 'hlt'")]
    [InlineData("host skylake-sp\nvmentry PAE|0x10000000000\n", "vmcs12's guest CR4 has a bit of 63:32 set")]
    [InlineData("host skylake-sp\nrun\nvmexit 0x8000000000000020\n", "vmcs12's host CR4 has a bit of 63:32 set")]
    public void Malformed_vmx_lines_are_errors_naming_their_line(string text, string message)
    {
        var error = Assert.IsType<Result<Scenario>.Error>(ScenarioParser.Parse(text, "t.scn")).Problem;

        Assert.Equal(text.Count(c => c == '\n'), error.Line);
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_scenario_sees_L2s_XSETBV_and_owned_CR4_write_exit_and_L0_keep_L1s_bit()
    {
        const string Text = """
            host skylake-sp
            guest-cpuid host
            set-cpuid2
            run
            mov-cr4 OSXSAVE
            vmentry OSXSAVE mask=OSXSAVE shadow=0
            xsetbv 0x3
            expect exit-to-l1 xsetbv
            mov-cr4 OSXSAVE
            expect exit-to-l1 cr-access
            mov-cr4 PKE
            expect nothing
            mov-from-cr4
            expect cr4 PKE
            get-cpuid2
            expect entry 1 ecx.OSXSAVE=1
            expect entry 7.0 ecx.OSPKE=1
            """;
        var report = ScenarioRunner.Run(Parsed(Text), HostPresets.SkylakeSp);

        Assert.Null(report.Failure);
    }
}
