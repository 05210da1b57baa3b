using CpuidFunctional.Core.Scenarios;

namespace CpuidFunctional.Properties.Scenarios;

public class ScenarioParserTests
{
    private static ParseError ErrorOf(string text) =>
        Assert.IsType<Result<Scenario>.Error>(ScenarioParser.Parse(text, "t.scn")).Problem;

    private static Scenario Parsed(string text) => Assert.IsType<Result<Scenario>.Ok>(ScenarioParser.Parse(text, "t.scn")).Value;

    [Fact]
    public void Steps_carry_their_line_numbers_and_comments_are_ignored()
    {
        var s = Parsed("# a comment\nhost skylake-sp\nkernel 6.15\n\nmov-cr4 OSXSAVE|PKE   # both\nexpect nothing\n");

        Assert.Equal(new HostSpec.Preset("skylake-sp"), s.Host);
        Assert.Equal(KernelProfile.Linux6_15, s.Profile);
        Assert.Equal(new ScenarioStep.Apply(5, new VcpuEvent.MovToCr4(Cr4.OsXsave | Cr4.Pke)), s.Steps[0]);
        Assert.Equal(6, s.Steps[1].Line);
    }

    [Fact]
    public void Check_extension_takes_the_capability_with_or_without_KVM_CAP_in_any_case_and_may_come_before_the_vCPU()
    {
        var s = Parsed("host genoa\ncheck-extension KVM_CAP_XSAVE2\ncheck-extension xcrs\ncreate-vcpu\ncheck-extension Disable_Quirks2\n");

        Assert.Equal(
            [new ScenarioStep.CheckExtension(2, KvmCapability.Xsave2), new ScenarioStep.CheckExtension(3, KvmCapability.Xcrs)],
            s.Steps.Take(2));
        Assert.Equal(new ScenarioStep.CheckExtension(5, KvmCapability.DisableQuirks2), s.Steps[3]);
    }

    [Fact]
    public void The_process_asks_for_AMX_tile_data_unless_the_file_says_none()
    {
        Assert.True(Parsed("host sapphire-rapids\nrun\n").XcompGuestPermRequested);
        Assert.False(Parsed("host sapphire-rapids\nxcomp-guest-perm none\nrun\n").XcompGuestPermRequested);
        Assert.True(Parsed("host sapphire-rapids\nxcomp-guest-perm xtile-data\nrun\n").XcompGuestPermRequested);
    }

    [Fact]
    public void Nested_entry_carries_guest_cr4_and_the_msr_load_list()
    {
        var s = Parsed("host genoa\nvmentry OSXSAVE XSS=0x800 MISC_ENABLE=MISC_DEFAULT\n");

        var entry = Assert.IsType<VcpuEvent.NestedVmEntry>(Assert.IsType<ScenarioStep.Apply>(s.Steps[0]).Event);
        Assert.Equal(Cr4.OsXsave, entry.GuestCr4);
        Assert.Equal([new MsrEntry(Msr.Xss, 0x800), new MsrEntry(Msr.MiscEnable, Msr.MiscEnableDefault)], entry.MsrLoad);
    }

    [Theory]
    [InlineData("host skylake-sp\nmov-cr4 0xZZ\n", 2, "bad number '0xZZ'")]
    [InlineData("host skylake-sp\n\nfly-to-moon\n", 3, "unknown step 'fly-to-moon'")]
    [InlineData("host skylake-sp\nkernel 5.10\n", 2, "expected 'kernel 6.1', 'kernel 6.15' or 'kernel 6.18'")]
    [InlineData("host skylake-sp\ncpuid 1\nexpect ecx.27=2\n", 3, "a bit is 0 or 1")]
    [InlineData("host skylake-sp\nwrmsr NOPE 1\n", 2, "bad MSR 'NOPE'")]
    [InlineData("host sapphire-rapids\nrun\nxcomp-guest-perm none\n", 3, "'xcomp-guest-perm' after line 2")]
    [InlineData("host sapphire-rapids\nxcomp-guest-perm none\nxcomp-guest-perm xtile-data\n", 3, "a second 'xcomp-guest-perm' line (the first is line 2)")]
    [InlineData("host sapphire-rapids\nxcomp-guest-perm some\n", 2, "expected 'xcomp-guest-perm none' or 'xcomp-guest-perm xtile-data'")]
    [InlineData("mov-cr4 0\n", 0, "no 'host' line")]
    [InlineData("host skylake-sp\n# nothing happened yet\nexpect nothing\n", 3, "'expect' before any step")]
    [InlineData("host skylake-sp\nget-cpuid2 0x100000000\n", 2, "does not fit in kvm_cpuid2's 32-bit nent")]
    [InlineData("host skylake-sp\nset-sregs cr4=0\nexpect ok 0xFFFFFFFFFFFFFFFF\n", 3, "an ioctl returns an int")]
    [InlineData("host skylake-sp\nset-cpuid2\ncreate-vcpu\n", 3, "create-vcpu after line 2")]
    [InlineData("host skylake-sp\nvm\nexpect ok\n", 3, "'expect' before any step")]
    [InlineData("host skylake-sp\ndisable-quirks2 0x10\ncreate-vcpu\nexpect ok\n", 4, "'expect' before any step")]
    [InlineData("host skylake-sp\nvm\nkernel 6.1\n", 3, "as 'vm kernel 6.x'")]
    [InlineData("host skylake-sp\nvm kernel 5.4\n", 2, "usage: vm")]
    [InlineData("host skylake-sp\nset-sregs cr4=0 cr4=0\n", 2, "'cr4' given twice")]
    [InlineData("host skylake-sp\nset-sregs cr3=0\n", 2, "unknown set-sregs field 'cr3'")]
    [InlineData("host skylake-sp\nguest-cpuid add 0x40000000 eax.1=1\n", 2, "whole registers")]
    [InlineData("host skylake-sp\nset-xcrs xcr0=7 0x3\n", 2, "bad XCR entry '0x3'")]
    [InlineData("host skylake-sp\nset-xcrs xmm0=7\n", 2, "bad XCR 'xmm0'")]
    [InlineData("host skylake-sp\nset-xcrs xcr0=7 flags=1 flags=0\n", 2, "flags given twice")]
    [InlineData("host skylake-sp\nset-xcrs flags=0x100000000\n", 2, "flags 0x100000000 is out of range")]
    [InlineData("host skylake-sp\ncheck-extension\n", 2, "usage: check-extension CAP (XSAVE, XCRS, X86_DISABLE_EXITS, XSAVE2, DISABLE_QUIRKS2)")]
    [InlineData("host skylake-sp\ncheck-extension X86_SMM\n", 2, "the model does not answer 'X86_SMM'")]
    [InlineData("host skylake-sp\ncheck-extension KVM_CAP_XSAVE3\n", 2, "the model does not answer 'KVM_CAP_XSAVE3'")]
    public void Malformed_lines_are_errors_naming_the_line(string text, int line, string message)
    {
        var error = ErrorOf(text);

        Assert.Equal("t.scn", error.Source);
        Assert.Equal(line, error.Line);
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Set_xcrs_takes_one_XCR0_value_or_a_list_of_XCRs_in_order_with_flags()
    {
        var s = Parsed("host skylake-sp\nset-xcrs 0x7\nset-xcrs xcr1=1 xcr0=X87|SSE flags=2\nset-xcrs\n");

        VcpuEvent Event(int n) => Assert.IsType<ScenarioStep.Apply>(s.Steps[n]).Event;
        Assert.Equal(new VcpuEvent.SetXcrs(0x7), Event(0));
        Assert.Equal(new VcpuEvent.SetXcrs(new ValueArray<XcrEntry>([new XcrEntry(1, 1), new XcrEntry(0, 3)])) { Flags = 2 }, Event(1));
        Assert.Equal(new VcpuEvent.SetXcrs(ValueArray<XcrEntry>.Empty), Event(2));
    }

    [Fact]
    public void XSETBV_takes_its_XCR_index_from_ECX_so_the_high_half_of_RCX_is_ignored()
    {
        // kvm-unit-tests xsave.c: XSETBV with RCX = 0xdeadbeef00000000 writes XCR0 and succeeds.
        var s = Parsed("host skylake-sp\nxsetbv 0xdeadbeef00000000 0x3\n");

        Assert.Equal(new VcpuEvent.Xsetbv(0, 0x3), Assert.IsType<ScenarioStep.Apply>(s.Steps[0]).Event);
    }

    [Fact]
    public void A_failed_expectation_names_the_line_and_both_values()
    {
        var s = Parsed("host skylake-sp\nguest-cpuid host\nset-cpuid2\nmov-cr4 OSXSAVE\ncpuid 1\nexpect ecx.OSXSAVE=0\n");

        var report = ScenarioRunner.Run(s, HostPresets.SkylakeSp);

        Assert.False(report.Passed);
        Assert.Equal(6, report.Failure!.Line);
        Assert.Contains("ecx.27: expected 0, got 1", report.Failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_policy_mismatch_names_the_line_and_each_policys_observation()
    {
        var s = Parsed("host skylake-sp\nguest-cpuid host\nset-cpuid2\nrun\nset-sregs cr4=OSXSAVE\nset-cpuid2\n");

        var report = ScenarioRunner.Run(s, HostPresets.SkylakeSp, [Policy.Eager, Policy.LazyUnfixed]);

        Assert.Equal(6, report.Failure!.Line);
        Assert.Contains("eager: ok 0; lazy-unfixed: -EINVAL", report.Failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_CR_only_scenario_is_an_error_at_line_1_not_a_missing_host_line()
    {
        var result = ScenarioParser.Parse("host skylake-sp\rset-cpuid2\rcpuid 1\r", "cr.scn");

        var problem = Assert.IsType<Result<Scenario>.Error>(result).Problem;
        Assert.Equal(("cr.scn", 1), (problem.Source, problem.Line));
        Assert.Contains("carriage return without a line feed", problem.Message, StringComparison.Ordinal);
    }

    private const string Divergence =
        "host skylake-sp\nguest-cpuid host\nguest-cpuid set 1 ecx.MWAIT=0\nset-cpuid2\nrun\ncpuid 1\n"
        + "wrmsr MISC_ENABLE MISC_DEFAULT|MISC_MWAIT\nmov-cr4 OSXSAVE\ndisable-quirks2 MISC_ENABLE_NO_MWAIT\ncpuid 1\n";

    [Fact]
    public void A_declared_divergence_passes_and_the_same_one_undeclared_fails_at_its_line()
    {
        ScenarioReport Run(string text) =>
            ScenarioRunner.Run(((Result<Scenario>.Ok)ScenarioParser.Parse(text, "d.scn")).Value, CpuidFunctional.Core.Host.HostPresets.SkylakeSp);

        Assert.True(Run(Divergence + "expect policies-differ\n").Passed);
        var undeclared = Run(Divergence).Failure!;
        Assert.Equal(10, undeclared.Line);
        Assert.Contains("policies differ on 'CPUID 0x1.0x0'", undeclared.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Declaring_a_divergence_where_the_policies_agree_fails()
    {
        var scenario = ((Result<Scenario>.Ok)ScenarioParser.Parse("host skylake-sp\nset-cpuid2\ncpuid 1\nexpect policies-differ\n", "a.scn")).Value;

        var failure = ScenarioRunner.Run(scenario, CpuidFunctional.Core.Host.HostPresets.SkylakeSp).Failure!;

        Assert.Equal(4, failure.Line);
        Assert.Contains("every policy saw", failure.Message, StringComparison.Ordinal);
    }
}
