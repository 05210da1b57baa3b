using static CpuidFunctional.Properties.Core.TestHosts;

namespace CpuidFunctional.Properties.Core;

/// <summary>
/// Nested VMX exits decided in Core (<see cref="Kvm.NestedVmxL1WantsExit"/>): CPUID and XSETBV in L2 always exit to
/// L1; MOV to CR4 exits iff it changes a bit L1 owns (vmcs12 CR4_GUEST_HOST_MASK) from L1's read shadow, otherwise
/// L0 sets L2's CR4 with L1's bits taken from vmcs12's GUEST_CR4 (<c>handle_set_cr4</c>), a trigger like any CR4 write.
/// </summary>
public class NestedVmxReflectionTests
{
    private static readonly Policy[] Policies = [Policy.Eager, Policy.Lazy, Policy.Reference];

    /// <summary>L1 runs with OSXSAVE and enters L2 with GUEST_CR4 = OSXSAVE, owning OSXSAVE and showing L2 it clear.</summary>
    private static KvmState InL2HidingOsxsave(Policy p) =>
        Kvm.Step(p, Running(p), new VcpuEvent.NestedVmEntry(Cr4.OsXsave) { Cr4GuestHostMask = Cr4.OsXsave, Cr4ReadShadow = 0 }).State;

    [Fact]
    public void XSETBV_in_L2_exits_to_L1_with_reason_55_and_changes_nothing_under_every_policy()
    {
        foreach (var p in Policies)
        {
            var s = Kvm.Step(p, Running(p), new VcpuEvent.NestedVmEntry(Cr4.OsXsave)).State;
            var t = Kvm.Step(p, s, new VcpuEvent.Xsetbv(0, 0x3));

            Assert.Equal(new Observation.ExitToL1(55), t.Observation);
            Assert.Same(s.Vcpu, t.State.Vcpu);
        }
    }

    [Fact]
    public void XSETBV_in_L2_faults_before_the_exit_without_OSXSAVE_and_at_CPL_3()
    {
        var p = Policy.Lazy;
        var noOsxsave = Kvm.Step(p, Running(p), new VcpuEvent.NestedVmEntry(0)).State;
        Assert.Equal(new Observation.Fault(X86Exception.UD), Kvm.Step(p, noOsxsave, new VcpuEvent.Xsetbv(0, 0x3)).Observation);

        var user = Kvm.Step(p, Kvm.Step(p, Running(p), new VcpuEvent.NestedVmEntry(Cr4.OsXsave)).State, new VcpuEvent.SetCpl(3)).State;
        Assert.Equal(new Observation.Fault(X86Exception.GP), Kvm.Step(p, user, new VcpuEvent.Xsetbv(0, 0x3)).Observation);
    }

    [Fact]
    public void MOV_to_CR4_in_L2_changing_an_owned_bit_from_the_read_shadow_exits_with_reason_28()
    {
        foreach (var p in Policies)
        {
            var s = InL2HidingOsxsave(p);
            var t = Kvm.Step(p, s, new VcpuEvent.MovToCr4(Cr4.OsXsave)); // the shadow says 0: L1's

            Assert.Equal(new Observation.ExitToL1(28), t.Observation);
            Assert.Same(s.Vcpu, t.State.Vcpu);
        }
    }

    [Fact]
    public void MOV_to_CR4_in_L2_agreeing_with_the_shadow_is_L0s_and_keeps_L1s_bit_from_GUEST_CR4()
    {
        var s = InL2HidingOsxsave(Policy.Lazy);
        var t = Kvm.Step(Policy.Lazy, s, new VcpuEvent.MovToCr4(Cr4.Pke)); // OSXSAVE 0 as the shadow: L0 handles it

        Assert.Null(t.Observation);
        Assert.Equal(Cr4.OsXsave | Cr4.Pke, t.State.Vcpu.Cr4);
        Assert.True(t.State.Vcpu.CpuidDynamicBitsDirty); // PKE changed: a trigger
        Assert.Equal(new Observation.Cr4Value(Cr4.Pke), Kvm.Step(Policy.Lazy, t.State, new VcpuEvent.MovFromCr4()).Observation);
    }

    [Fact]
    public void Without_an_owned_bit_every_L2_MOV_to_CR4_is_L0s_as_before_and_the_entry_keeps_no_vmcs12_state()
    {
        var s = Kvm.Step(Policy.Lazy, Running(Policy.Lazy), new VcpuEvent.NestedVmEntry(Cr4.OsXsave)).State;
        Assert.Null(s.Vcpu.Vmx);

        var t = Kvm.Step(Policy.Lazy, s, new VcpuEvent.MovToCr4(0));
        Assert.Null(t.Observation);
        Assert.Equal(0ul, t.State.Vcpu.Cr4);
    }

    [Fact]
    public void The_VM_exit_and_RESET_drop_L1s_mask_and_L1_reads_its_own_CR4_again()
    {
        var s = InL2HidingOsxsave(Policy.Lazy);
        Assert.Equal(new NestedVmx(Cr4.OsXsave, 0, Cr4.OsXsave), s.Vcpu.Vmx);

        var exited = Kvm.Step(Policy.Lazy, s, new VcpuEvent.NestedVmExit(Cr4.OsXsave)).State;
        Assert.Null(exited.Vcpu.Vmx);
        Assert.Equal(new Observation.Cr4Value(Cr4.OsXsave), Kvm.Step(Policy.Lazy, exited, new VcpuEvent.MovFromCr4()).Observation);
        Assert.Null(Kvm.Step(Policy.Lazy, s, new VcpuEvent.Reset()).State.Vcpu.Vmx);
    }

    [Fact]
    public void Outside_VMX_guest_mode_nothing_is_L1s()
    {
        var l1 = Running(Policy.Lazy).Vcpu;
        Assert.Null(Kvm.NestedVmxL1WantsExit(l1, VmxL2Instruction.Cpuid));
        Assert.Null(Kvm.NestedVmxL1WantsExit(l1, VmxL2Instruction.Xsetbv));
        var svm = Kvm.Step(Policy.Lazy, Running(Policy.Lazy), new VcpuEvent.NestedSvmVmrun(Cr4.OsXsave, Vmcb12Intercepts.None)).State.Vcpu;
        Assert.Null(Kvm.NestedVmxL1WantsExit(svm, VmxL2Instruction.Cpuid));
    }
}
