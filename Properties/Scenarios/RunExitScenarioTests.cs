using CpuidFunctional.Core.Scenarios;

namespace CpuidFunctional.Properties.Scenarios;

/// <summary>
/// KVM_RUN's exits at the event level: a port access is KVM_EXIT_IO (a selftest ucall is an IN), HLT halts inside
/// KVM (in-kernel local APIC), a triple fault is KVM_EXIT_SHUTDOWN, after an INIT on SVM hosts
/// (<c>shutdown_interception</c>), or L1's (VMX always, SVM with vmcb12's shutdown intercept).
/// </summary>
public class RunExitScenarioTests
{
    private static Scenario Parsed(string text) => Assert.IsType<Result<Scenario>.Ok>(ScenarioParser.Parse(text, "t.scn")).Value;

    private static void Passes(string host, string body)
    {
        var report = ScenarioRunner.Run(Parsed($"host {host}\nguest-cpuid host\nset-cpuid2\nrun\nmov-cr4 OSXSAVE\n{body}\n"), HostPresets.All[host]);
        Assert.Null(report.Failure);
    }

    [Fact]
    public void Port_accesses_are_KVM_EXIT_IO_with_direction_port_size_and_OUT_data()
    {
        var s = Parsed("host skylake-sp\nout 0xf4 0x1234 2\nexpect exit io out 0xf4 0x1234\nin 0x1000\nexpect exit io in 0x1000\n");

        Assert.Equal(new VcpuEvent.PortIo(false, 0xF4, 2, 0x1234), ((ScenarioStep.Apply)s.Steps[0]).Event);
        Assert.Equal(new Expectation.Exactly(new Observation.ExitIo(false, 0xF4, 2, 0x1234)), ((ScenarioStep.Expect)s.Steps[1]).Expected);
        Assert.Equal(new Expectation.Exactly(new Observation.ExitIo(true, 0x1000, 1, 0)), ((ScenarioStep.Expect)s.Steps[3]).Expected);
        Passes("skylake-sp", "out 0xf4 0x1234 2\nexpect exit io out 0xf4 0x1234\nin 0x1000\nexpect exit io in 0x1000\ncpuid 1\nexpect ecx.OSXSAVE=1");
    }

    [Theory]
    [InlineData("out 0x10000 1\n", "port 0x10000 does not fit in 16 bits")]
    [InlineData("out 0x80 0x100\n", "value 0x100 does not fit in 1 byte")]
    [InlineData("in 0x80 3\n", "size 3: usage: in PORT")]
    [InlineData("cpuid 1\nexpect exit io sideways 0x80\n", "usage: expect exit io")]
    public void Malformed_run_exit_lines_are_errors_not_clamped(string lines, string message)
    {
        var text = "host skylake-sp\n" + lines;
        var error = Assert.IsType<Result<Scenario>.Error>(ScenarioParser.Parse(text, "t.scn")).Problem;

        Assert.Equal(text.Count(c => c == '\n'), error.Line);
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void HLT_halts_in_KVM_at_CPL_0_and_faults_at_CPL_3() =>
        Passes("skylake-sp", "hlt\nexpect halted\ncpl 3\nhlt\nexpect #GP");

    [Fact]
    public void A_triple_fault_on_VMX_is_KVM_EXIT_SHUTDOWN_with_the_vCPU_untouched() =>
        Passes("skylake-sp", "triple-fault\nexpect exit shutdown\ncpuid 1\nexpect ecx.OSXSAVE=1");

    [Fact]
    public void A_triple_fault_on_SVM_INITs_the_vCPU_so_CR4_and_OSXSAVE_are_cleared() =>
        Passes("genoa", "triple-fault\nexpect exit shutdown\nget-sregs\nexpect sregs cr4=0 efer=0\ncpuid 1\nexpect ecx.OSXSAVE=0");

    [Fact]
    public void A_triple_fault_in_L2_is_L1s_on_VMX_and_on_SVM_only_with_the_shutdown_intercept()
    {
        Passes("skylake-sp", "vmentry PAE\ntriple-fault\nexpect exit-to-l1 triple-fault\nvmexit OSXSAVE\ncpuid 1\nexpect ecx.OSXSAVE=1");
        Passes("genoa", "vmrun PAE intercept-shutdown\ntriple-fault\nexpect svm-exit shutdown\nsvm-vmexit\ncpuid 1\nexpect ecx.OSXSAVE=1");
        Passes("genoa", "vmrun OSXSAVE\ntriple-fault\nexpect exit shutdown\nget-sregs\nexpect sregs cr4=0\ncpuid 1\nexpect ecx.OSXSAVE=0");
    }

    /// <summary>
    /// <c>shutdown_interception</c>'s INIT leaves SMM on every profile: 6.18's <c>kvm_vcpu_reset</c> through
    /// <c>kvm_smm_changed</c>, 6.1's by clearing <c>hflags</c>. A later RSM is outside SMM: #UD.
    /// </summary>
    [Theory]
    [InlineData("6.1")]
    [InlineData("6.18")]
    public void A_triple_fault_in_SMM_on_SVM_leaves_SMM_so_a_later_RSM_is_UD(string kernel)
    {
        const string rsm = "#UD";
        var text = $"host genoa\nkernel {kernel}\nguest-cpuid host\nset-cpuid2\nrun\nmov-cr4 OSXSAVE\nsmi\ntriple-fault\nexpect exit shutdown\nrsm\nexpect {rsm}\n";

        Assert.Null(ScenarioRunner.Run(Parsed(text), HostPresets.Genoa).Failure);
    }
}
