using CpuidFunctional.Core.Checking;
using static CpuidFunctional.Properties.Core.TestHosts;

namespace CpuidFunctional.Properties.Core;

/// <summary>
/// Nested SVM in Core (spec §8): VMRUN and #VMEXIT load CR4 through <c>svm_set_cr4</c> (triggers like every CR4 load),
/// and an L2 CPUID or XSETBV is L1's only if vmcb12 intercepts it; otherwise L0 answers it with L2's state, so a
/// pending update is materialized inside L2.
/// </summary>
public class NestedSvmTests
{
    private static readonly Policy[] Policies = [Policy.Eager, Policy.Lazy, Policy.Reference];

    private static uint OsXsaveBit(Observation? o) => (Assert.IsType<Observation.CpuidResult>(o).Ecx >> 27) & 1;

    [Fact]
    public void VMRUN_loads_save_CR4_through_svm_set_cr4_and_marks_iff_OSXSAVE_or_PKE_differ()
    {
        var s = Running(Policy.Lazy); // CR4.OSXSAVE, table current
        var same = Kvm.Step(Policy.Lazy, s, new VcpuEvent.NestedSvmVmrun(Cr4.OsXsave | Cr4.Pae, Vmcb12Intercepts.None)).State;
        Assert.True(same.Vcpu.GuestMode);
        Assert.Equal(new NestedSvm(Vmcb12Intercepts.None, Cr4.OsXsave), same.Vcpu.Svm);
        Assert.False(same.Vcpu.CpuidDynamicBitsDirty);

        var differs = Kvm.Step(Policy.Lazy, s, new VcpuEvent.NestedSvmVmrun(Cr4.Pae, Vmcb12Intercepts.None)).State;
        Assert.True(differs.Vcpu.CpuidDynamicBitsDirty);
        Assert.Equal(Cr4.Pae, differs.Vcpu.Cr4);
    }

    [Fact]
    public void VMEXIT_restores_L1s_CR4_saved_at_VMRUN_and_marks_iff_it_differs()
    {
        var s = Running(Policy.Lazy);
        s = Kvm.Step(Policy.Lazy, s, new VcpuEvent.NestedSvmVmrun(Cr4.Pae, Vmcb12Intercepts.None)).State;
        s = Kvm.Step(Policy.Lazy, s, new VcpuEvent.GetCpuid2(256)).State;
        Assert.False(s.Vcpu.CpuidDynamicBitsDirty);

        var exit = Kvm.Step(Policy.Lazy, s, new VcpuEvent.NestedSvmVmexit()).State;
        Assert.False(exit.Vcpu.GuestMode);
        Assert.Null(exit.Vcpu.Svm);
        Assert.Equal(Cr4.OsXsave, exit.Vcpu.Cr4);
        Assert.True(exit.Vcpu.CpuidDynamicBitsDirty);
    }

    [Fact]
    public void An_L2_CPUID_L1_does_not_intercept_is_answered_by_L0_with_L2s_CR4_under_every_policy()
    {
        foreach (var p in Policies)
        {
            var (_, seen) = Run(p, Running(p), new VcpuEvent.NestedSvmVmrun(Cr4.Pae, Vmcb12Intercepts.Xsetbv), new VcpuEvent.Cpuid(1, 0));
            Assert.Equal(0u, OsXsaveBit(seen[1]));
        }
    }

    [Fact]
    public void An_L2_CPUID_L1_intercepts_exits_with_0x72_and_changes_nothing()
    {
        var s = Kvm.Step(Policy.Lazy, Running(Policy.Lazy), new VcpuEvent.NestedSvmVmrun(Cr4.Pae, Vmcb12Intercepts.Cpuid)).State;
        var t = Kvm.Step(Policy.Lazy, s, new VcpuEvent.Cpuid(1, 0));
        Assert.Equal(new Observation.SvmExitToL1(SvmExitCode.Cpuid), t.Observation);
        Assert.Same(s.Vcpu, t.State.Vcpu);
        Assert.True(t.State.Vcpu.CpuidDynamicBitsDirty); // nothing materialized on L2's behalf
    }

    [Fact]
    public void An_L2_XSETBV_exits_with_0x8D_only_if_intercepted_and_after_the_UD_without_OSXSAVE()
    {
        var start = Running(Policy.Eager);
        var intercepted = Kvm.Step(Policy.Eager, start, new VcpuEvent.NestedSvmVmrun(Cr4.OsXsave, Vmcb12Intercepts.Xsetbv)).State;
        Assert.Equal(new Observation.SvmExitToL1(SvmExitCode.Xsetbv), Kvm.Step(Policy.Eager, intercepted, new VcpuEvent.Xsetbv(0, 0x3)).Observation);

        var withoutOsXsave = Kvm.Step(Policy.Eager, start, new VcpuEvent.NestedSvmVmrun(Cr4.Pae, Vmcb12Intercepts.Xsetbv)).State;
        Assert.Equal(new Observation.Fault(X86Exception.UD), Kvm.Step(Policy.Eager, withoutOsXsave, new VcpuEvent.Xsetbv(0, 0x3)).Observation);

        var notIntercepted = Kvm.Step(Policy.Eager, start, new VcpuEvent.NestedSvmVmrun(Cr4.OsXsave, Vmcb12Intercepts.Cpuid)).State;
        var emulated = Kvm.Step(Policy.Eager, notIntercepted, new VcpuEvent.Xsetbv(0, 0x3));
        Assert.Null(emulated.Observation);
        Assert.Equal(0x3ul, emulated.State.Vcpu.Xcr0); // XCR0 is shared by L1 and L2
    }

    [Fact]
    public void VMRUN_in_L2_exits_to_L1_at_CPL_3_is_GP_and_in_SMM_is_UD()
    {
        var s = Kvm.Step(Policy.Eager, Running(Policy.Eager), new VcpuEvent.NestedSvmVmrun(Cr4.Pae, Vmcb12Intercepts.None)).State;
        Assert.Equal(new Observation.SvmExitToL1(SvmExitCode.Vmrun), Kvm.Step(Policy.Eager, s, new VcpuEvent.NestedSvmVmrun(0, 0)).Observation);

        var cpl3 = Kvm.Step(Policy.Eager, Running(Policy.Eager), new VcpuEvent.SetCpl(3)).State;
        Assert.Equal(new Observation.Fault(X86Exception.GP), Kvm.Step(Policy.Eager, cpl3, new VcpuEvent.NestedSvmVmrun(0, 0)).Observation);

        var smm = Kvm.Step(Policy.Eager, Running(Policy.Eager), new VcpuEvent.EnterSmm()).State;
        Assert.Equal(new Observation.Fault(X86Exception.UD), Kvm.Step(Policy.Eager, smm, new VcpuEvent.NestedSvmVmrun(0, 0)).Observation);
    }

    [Fact]
    public void VMEXIT_outside_SVM_guest_mode_changes_nothing_and_RESET_leaves_SVM_guest_mode()
    {
        var s = Running(Policy.Lazy);
        Assert.Same(s.Vcpu, Kvm.Step(Policy.Lazy, s, new VcpuEvent.NestedSvmVmexit()).State.Vcpu);

        var inL2 = Kvm.Step(Policy.Lazy, s, new VcpuEvent.NestedSvmVmrun(Cr4.Pae, Vmcb12Intercepts.None)).State;
        var reset = Kvm.Step(Policy.Lazy, inL2, new VcpuEvent.Reset()).State;
        Assert.False(reset.Vcpu.GuestMode);
        Assert.Null(reset.Vcpu.Svm);
    }

    [Fact]
    public void The_SVM_half_of_the_2020_bug_shows_L2_L1s_OSXSAVE_inside_L2()
    {
        var buggy = new Policy(UpdateScheme.Lazy, WrongRules.VmrunCr4NotTrigger);
        VcpuEvent[] trace = [new VcpuEvent.NestedSvmVmrun(Cr4.Pae, Vmcb12Intercepts.None), new VcpuEvent.Cpuid(1, 0)];
        Assert.Equal(0u, OsXsaveBit(Run(Policy.Eager, Running(Policy.Eager), trace).Observations[1]));
        Assert.Equal(1u, OsXsaveBit(Run(buggy, Running(buggy), trace).Observations[1]));
    }
}
