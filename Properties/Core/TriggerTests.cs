using static CpuidFunctional.Properties.Core.TestHosts;

namespace CpuidFunctional.Properties.Core;

/// <summary>One test per trigger of spec §3.1: under Lazy it sets the marker (and only then); under Eager the table is current at once.</summary>
public class TriggerTests
{
    private static readonly Policy Lazy = Policy.Lazy;
    private static readonly Policy Eager = Policy.Eager;

    private static bool Marked(KvmState s) => s.Vcpu.CpuidDynamicBitsDirty;

    private static KvmState Step(Policy p, KvmState s, VcpuEvent e) => Kvm.Step(p, s, e).State;

    private static uint Leaf1Ecx(KvmState s) => s.Vcpu.Cpuid.Find(1, 0)!.Value.Ecx;

    [Fact]
    public void Guest_MOV_CR4_flipping_OSXSAVE_marks_and_Eager_updates_at_once()
    {
        var lazy = Step(Lazy, Fresh(Lazy), new VcpuEvent.MovToCr4(Cr4.OsXsave));
        var eager = Step(Eager, Fresh(Eager), new VcpuEvent.MovToCr4(Cr4.OsXsave));

        Assert.True(Marked(lazy));
        Assert.False(Bit(Leaf1Ecx(lazy), 27));
        Assert.True(Bit(Leaf1Ecx(eager), 27));
        Assert.False(Marked(eager));
    }

    [Fact]
    public void Guest_MOV_CR4_flipping_PKE_marks()
    {
        var s = Step(Lazy, Fresh(Lazy), new VcpuEvent.MovToCr4(Cr4.Pke));
        Assert.True(Marked(s));
        var eager = Step(Eager, Fresh(Eager), new VcpuEvent.MovToCr4(Cr4.Pke));
        Assert.True(Bit(eager.Vcpu.Cpuid.Find(7, 0)!.Value.Ecx, 4));
    }

    [Fact]
    public void Guest_MOV_CR4_changing_only_other_bits_does_not_mark()
    {
        var s = Step(Lazy, Fresh(Lazy), new VcpuEvent.MovToCr4(Cr4.Pae | Cr4.OsFxsr));
        Assert.Equal(Cr4.Pae | Cr4.OsFxsr, s.Vcpu.Cr4);
        Assert.False(Marked(s));
    }

    [Fact]
    public void XSETBV_changing_a_bit_above_SSE_marks()
    {
        var s = Running(Lazy);
        s = Step(Lazy, s, new VcpuEvent.Xsetbv(0, 0xE7));
        Assert.True(Marked(s));
        Assert.Equal(0xE7ul, s.Vcpu.Xcr0);
    }

    [Fact]
    public void XSETBV_changing_only_x87_or_SSE_does_not_mark()
    {
        var s = Running(Lazy);
        s = Step(Lazy, s, new VcpuEvent.Xsetbv(0, 0x3));
        s = Step(Lazy, s, new VcpuEvent.Cpuid(0, 0));
        var t = Step(Lazy, s, new VcpuEvent.Xsetbv(0, 0x1));
        Assert.Equal(0x1ul, t.Vcpu.Xcr0);
        Assert.False(Marked(t));
    }

    [Fact]
    public void KVM_SET_XCRS_is_the_same_trigger_as_XSETBV()
    {
        var s = Running(Lazy);
        var t = Kvm.Step(Lazy, s, new VcpuEvent.SetXcrs(0x2E7));
        Assert.Equal(new Observation.IoctlDone(0), t.Observation);
        Assert.True(Marked(t.State));
    }

    [Fact]
    public void XSS_write_marks_on_every_accepted_write_in_6_15_but_only_on_change_in_6_18()
    {
        var old = Running(Lazy, KernelProfile.Linux6_15);
        var same615 = Step(Lazy, old, new VcpuEvent.Wrmsr(Msr.Xss, 0));
        Assert.True(Marked(same615));

        var current = RunningWithCet(Lazy, KernelProfile.Linux6_18);
        var same618 = Step(Lazy, current, new VcpuEvent.Wrmsr(Msr.Xss, 0));
        Assert.Same(current.Vcpu, same618.Vcpu);
        var changed618 = Step(Lazy, current, new VcpuEvent.Wrmsr(Msr.Xss, Xss.CetUser));
        Assert.True(Marked(changed618));
    }

    [Fact]
    public void MISC_ENABLE_MWAIT_change_marks_only_with_the_quirk_disabled()
    {
        var s = Running(Lazy);
        var withQuirk = Step(Lazy, s, new VcpuEvent.Wrmsr(Msr.MiscEnable, Msr.MiscEnableDefault | Msr.MiscEnableMwait));
        Assert.False(Marked(withQuirk));
        Assert.Equal(Msr.MiscEnableDefault | Msr.MiscEnableMwait, withQuirk.Vcpu.MiscEnable);

        var disabled = Step(Lazy, s, new VcpuEvent.DisableQuirks2((ulong)KvmQuirks.MiscEnableNoMwait));
        var marked = Step(Lazy, disabled, new VcpuEvent.Wrmsr(Msr.MiscEnable, Msr.MiscEnableDefault | Msr.MiscEnableMwait));
        Assert.True(Marked(marked));
    }

    [Fact]
    public void MISC_ENABLE_MWAIT_change_without_guest_SSE3_is_refused_with_no_state_change()
    {
        var noSse3 = CpuidTable.Of(SkylakeGuest.Entries.Select(e => e.Function == 1 ? e.WithBit(CpuidRegister.Ecx, 0, false) : e));
        var vm = Vm() with { DisabledQuirks = KvmQuirks.MiscEnableNoMwait };
        var s = KvmState.WithCpuid(vm, Lazy, noSse3);

        var t = Kvm.Step(Lazy, s, new VcpuEvent.Wrmsr(Msr.MiscEnable, Msr.MiscEnableDefault | Msr.MiscEnableMwait));

        Assert.Equal(new Observation.Fault(X86Exception.GP), t.Observation);
        Assert.Same(s.Vcpu, t.State.Vcpu);
    }

    [Fact]
    public void APIC_BASE_enable_flip_marks_and_other_changes_do_not()
    {
        var s = Running(Lazy);
        var disabled = Step(Lazy, s, new VcpuEvent.Wrmsr(Msr.ApicBase, 0xFEE0_0100));
        Assert.True(Marked(disabled));

        var x2apic = Step(Lazy, s, new VcpuEvent.Wrmsr(Msr.ApicBase, 0xFEE0_0D00));
        Assert.Equal(0xFEE0_0D00ul, x2apic.Vcpu.ApicBase);
        Assert.False(Marked(x2apic));
    }

    [Fact]
    public void SMM_entry_always_marks_even_with_CR4_already_clear()
    {
        var s = Step(Lazy, Fresh(Lazy), new VcpuEvent.Run());
        Assert.False(Marked(s));
        var smm = Step(Lazy, s, new VcpuEvent.EnterSmm());
        Assert.True(smm.Vcpu.InSmm);
        Assert.True(Marked(smm));
    }

    [Fact]
    public void RSM_marks_only_when_it_changes_OSXSAVE_or_PKE()
    {
        var plain = Step(Lazy, Fresh(Lazy), new VcpuEvent.EnterSmm());
        plain = Step(Lazy, plain, new VcpuEvent.GetCpuid2(256));
        var back = Step(Lazy, plain, new VcpuEvent.Rsm());
        Assert.False(Marked(back));

        var withXsave = Running(Lazy);
        withXsave = Step(Lazy, withXsave, new VcpuEvent.EnterSmm());
        withXsave = Step(Lazy, withXsave, new VcpuEvent.GetCpuid2(256));
        var restored = Step(Lazy, withXsave, new VcpuEvent.Rsm());
        Assert.Equal(Cr4.OsXsave, restored.Vcpu.Cr4);
        Assert.True(Marked(restored));
    }

    [Fact]
    public void INIT_clears_CR4_and_marks_only_if_OSXSAVE_or_PKE_were_set()
    {
        var s = Running(Lazy);
        var init = Step(Lazy, s, new VcpuEvent.Init());
        Assert.Equal(0ul, init.Vcpu.Cr4);
        Assert.True(Marked(init));
        Assert.Equal(s.Vcpu.Xcr0, init.Vcpu.Xcr0);
        Assert.Equal(s.Vcpu.ApicBase, init.Vcpu.ApicBase);

        var again = Step(Lazy, Step(Lazy, init, new VcpuEvent.Cpuid(1, 0)), new VcpuEvent.Init());
        Assert.False(Marked(again));
    }

    [Fact]
    public void RESET_restores_the_RESET_values_and_marks()
    {
        var s = Running(Lazy);
        s = Step(Lazy, s, new VcpuEvent.Wrmsr(Msr.ApicBase, 0xFEE0_0100));
        s = Step(Lazy, s, new VcpuEvent.Cpuid(0, 0));
        var reset = Step(Lazy, s, new VcpuEvent.Reset());

        Assert.Equal(Msr.ApicBaseDefault, reset.Vcpu.ApicBase);
        Assert.Equal(1ul, reset.Vcpu.Xcr0);
        Assert.Equal(0ul, reset.Vcpu.Cr4);
        Assert.Equal(Msr.MiscEnableDefault, reset.Vcpu.MiscEnable);
        Assert.True(Marked(reset));
        Assert.Equal(s.Vcpu.Cpuid, reset.Vcpu.Cpuid);
    }

    [Fact]
    public void SEV_ES_GHCB_XCR0_marks_unconditionally_and_unvalidated_in_6_15_but_only_on_valid_changes_in_6_18()
    {
        var old = Running(Lazy, KernelProfile.Linux6_15);
        var same = Step(Lazy, old, new VcpuEvent.SevEsSyncFromGhcb(old.Vcpu.Xcr0));
        Assert.True(Marked(same));
        var invalid = Step(Lazy, old, new VcpuEvent.SevEsSyncFromGhcb(0x5));
        Assert.Equal(0x5ul, invalid.Vcpu.Xcr0);

        var current = Running(Lazy, KernelProfile.Linux6_18);
        Assert.Same(current.Vcpu, Step(Lazy, current, new VcpuEvent.SevEsSyncFromGhcb(current.Vcpu.Xcr0)).Vcpu);
        Assert.Same(current.Vcpu, Step(Lazy, current, new VcpuEvent.SevEsSyncFromGhcb(0x5)).Vcpu);
        Assert.True(Marked(Step(Lazy, current, new VcpuEvent.SevEsSyncFromGhcb(0xE7))));
    }

    /// <summary>
    /// <c>sev_es_sync_from_ghcb</c> loads the VMCB's CPL from the GHCB (<c>kvm_ghcb_get_cpl_if_valid</c>: 0 unless the GHCB
    /// marks a CPL valid) before XCR0, so a CPUID that faulted at CPL 3 under CPUID faulting is answered after the sync.
    /// </summary>
    [Theory]
    [InlineData(KernelProfile.Linux6_15)]
    [InlineData(KernelProfile.Linux6_18)]
    public void The_SEV_ES_GHCB_sync_loads_the_CPL_the_GHCB_gives(KernelProfile profile)
    {
        var s = Running(Lazy, profile);
        s = Step(Lazy, s, new VcpuEvent.Wrmsr(Msr.MiscFeaturesEnables, Msr.MiscFeaturesCpuidFault));
        s = Step(Lazy, s, new VcpuEvent.SetCpl(3));
        Assert.Equal(new Observation.Fault(X86Exception.GP), Kvm.Step(Lazy, s, new VcpuEvent.Cpuid(1, 0)).Observation);

        var synced = Step(Lazy, s, new VcpuEvent.SevEsSyncFromGhcb(s.Vcpu.Xcr0));
        Assert.Equal(0, synced.Vcpu.Cpl);
        Assert.IsType<Observation.CpuidResult>(Kvm.Step(Lazy, synced, new VcpuEvent.Cpuid(1, 0)).Observation);
        Assert.Equal(3, Step(Lazy, s, new VcpuEvent.SevEsSyncFromGhcb(s.Vcpu.Xcr0) { Cpl = 3 }).Vcpu.Cpl);
    }

    [Fact]
    public void Nested_VM_entry_marks_iff_guest_CR4_differs_in_OSXSAVE_or_PKE()
    {
        var s = Running(Lazy);
        var same = Step(Lazy, s, new VcpuEvent.NestedVmEntry(Cr4.OsXsave | Cr4.Pae));
        Assert.True(same.Vcpu.GuestMode);
        Assert.False(Marked(same));

        var differs = Step(Lazy, s, new VcpuEvent.NestedVmEntry(Cr4.Pae));
        Assert.True(Marked(differs));
    }

    [Fact]
    public void Nested_VM_exit_loads_host_CR4_and_marks_iff_it_differs()
    {
        var s = Running(Lazy);
        s = Step(Lazy, s, new VcpuEvent.NestedVmEntry(0));
        s = Step(Lazy, s, new VcpuEvent.GetCpuid2(256));
        var exit = Step(Lazy, s, new VcpuEvent.NestedVmExit(Cr4.OsXsave));
        Assert.False(exit.Vcpu.GuestMode);
        Assert.True(Marked(exit));
    }

    [Fact]
    public void VM_entry_MSR_load_list_goes_through_WRMSR_and_can_trigger()
    {
        var s = Running(Lazy);
        var msrs = new ValueArray<MsrEntry>([new MsrEntry(Msr.ApicBase, 0xFEE0_0100)]);
        var t = Kvm.Step(Lazy, s, new VcpuEvent.NestedVmEntry(Cr4.OsXsave, msrs));
        Assert.Null(t.Observation);
        Assert.Equal(0xFEE0_0100ul, t.State.Vcpu.ApicBase);
        Assert.True(Marked(t.State));
    }

    [Fact]
    public void VM_entry_MSR_load_failure_names_the_entry_and_VM_exit_list_failure_is_a_VMX_abort()
    {
        var s = Running(Lazy);
        var bad = new ValueArray<MsrEntry>([new MsrEntry(Msr.MiscFeaturesEnables, 0), new MsrEntry(0xC000_0100, 1)]);
        var entry = Kvm.Step(Lazy, s, new VcpuEvent.NestedVmEntry(Cr4.OsXsave, bad));
        Assert.Equal(new Observation.VmEntryMsrLoadFailed(2), entry.Observation);

        var exit = Kvm.Step(Lazy, entry.State, new VcpuEvent.NestedVmExit(Cr4.OsXsave, bad));
        Assert.Equal(new Observation.VmxAbort(Msr.VmxAbortLoadHostMsrFail), exit.Observation);
    }

    [Fact]
    public void KVM_SET_SREGS_sets_APIC_base_then_CR4_and_marks()
    {
        var s = Step(Lazy, Fresh(Lazy), new VcpuEvent.Run());
        var t = Kvm.Step(Lazy, s, new VcpuEvent.SetSregs(Cr4.OsXsave, 0xFEE0_0100));
        Assert.Equal(new Observation.IoctlDone(0), t.Observation);
        Assert.Equal(Cr4.OsXsave, t.State.Vcpu.Cr4);
        Assert.Equal(0xFEE0_0100ul, t.State.Vcpu.ApicBase);
        Assert.True(Marked(t.State));
    }

    [Fact]
    public void KVM_SET_MSRS_writes_until_the_first_refusal_and_returns_the_count()
    {
        var s = RunningWithCet(Lazy);
        var list = new ValueArray<MsrEntry>(
            [new MsrEntry(Msr.Xss, Xss.CetUser), new MsrEntry(Msr.TsxCtrl, 2), new MsrEntry(Msr.NotKnownToKvm, 0), new MsrEntry(Msr.MiscFeaturesEnables, 1)]
        );
        var t = Kvm.Step(Lazy, s, new VcpuEvent.SetMsrs(list));
        Assert.Equal(new Observation.IoctlDone(2), t.Observation);
        Assert.Equal(Xss.CetUser, t.State.Vcpu.Xss);
        Assert.Equal(2ul, t.State.Vcpu.TsxCtrl);
        Assert.Equal(0ul, t.State.Vcpu.MiscFeaturesEnables);
        Assert.True(Marked(t.State));
    }

    [Fact]
    public void Disabling_a_quirk_never_marks()
    {
        var s = Running(Lazy);
        var t = Kvm.Step(Lazy, s, new VcpuEvent.DisableQuirks2((ulong)(KvmQuirks.MiscEnableNoMwait | KvmQuirks.MwaitNeverUdFaults)));
        Assert.Equal(new Observation.IoctlDone(0), t.Observation);
        Assert.Same(s.Vcpu, t.State.Vcpu);
        Assert.False(t.State.Vm.QuirkInEffect(KvmQuirks.MiscEnableNoMwait));
    }

    [Fact]
    public void Reading_state_back_never_marks_and_returns_the_same_state()
    {
        var s = Running(Lazy);
        VcpuEvent[] reads =
        [
            new VcpuEvent.XgetbvXcr0(),
            new VcpuEvent.GetSregs(),
            new VcpuEvent.GetXcrs(),
            new VcpuEvent.GetMsrs(new([Msr.ApicBase, Msr.Xss, Msr.MiscEnable])),
        ];
        foreach (var read in reads)
        {
            var t = Kvm.Step(Lazy, s, read);
            Assert.Equal(s, t.State);
            Assert.Same(s.Vcpu, t.State.Vcpu);
        }
        Assert.Equal(new Observation.Xcr0Value(0x7), Kvm.Step(Lazy, s, new VcpuEvent.XgetbvXcr0()).Observation);
        Assert.Equal(new Observation.Sregs(Cr4.OsXsave, Msr.ApicBaseDefault), Kvm.Step(Lazy, s, new VcpuEvent.GetSregs()).Observation);
        Assert.Equal(new Observation.Xcrs(1, 0x7), Kvm.Step(Lazy, s, new VcpuEvent.GetXcrs()).Observation);
        var msrs = Assert.IsType<Observation.Msrs>(Kvm.Step(Lazy, s, new VcpuEvent.GetMsrs(new([Msr.ApicBase, 0x1234, Msr.Xss]))).Observation);
        Assert.Equal([new MsrEntry(Msr.ApicBase, Msr.ApicBaseDefault)], msrs.Read.Items);
    }

    [Fact]
    public void XGETBV_without_CR4_OSXSAVE_is_UD_and_KVM_GET_XCRS_without_host_XSAVE_returns_no_register()
    {
        var s = Fresh(Lazy);
        Assert.Equal(new Observation.Fault(X86Exception.UD), Kvm.Step(Lazy, s, new VcpuEvent.XgetbvXcr0()).Observation);
        var noXsave = HostCpu.FromCpuid("no-xsave", CpuidTable.Of(SkylakeCpuid.Entries.Select(e => e.Function == 1 ? e.WithBit(CpuidRegister.Ecx, 26, false) : e)));
        var onIt = KvmState.Create(new Vm(noXsave), Lazy);
        Assert.Equal(new Observation.Xcrs(0, 0), Kvm.Step(Lazy, onIt, new VcpuEvent.GetXcrs()).Observation);
    }

    [Fact]
    public void The_SEV_ES_GHCB_XSS_is_taken_as_a_guest_write_from_6_18_and_ignored_before()
    {
        var ghcb = new VcpuEvent.SevEsSyncFromGhcb(0x7, Xss.CetUser);
        Assert.Equal(Xss.CetUser, Step(Lazy, RunningWithCet(Lazy, KernelProfile.Linux6_18), ghcb).Vcpu.Xss);
        Assert.Equal(0ul, Step(Lazy, RunningWithCet(Lazy, KernelProfile.Linux6_15), ghcb).Vcpu.Xss);
        var refused = new VcpuEvent.SevEsSyncFromGhcb(0x7, Xss.Pt); // not supported: the write is ignored, XCR0 still taken
        var s = RunningWithCet(Lazy, KernelProfile.Linux6_18);
        Assert.Same(s.Vcpu, Step(Lazy, s, refused).Vcpu);
    }
}
