using static CpuidFunctional.Properties.Core.TestHosts;

namespace CpuidFunctional.Properties.Core;

/// <summary>One test per consumer of spec §3.2: who materializes, in which order, and what clears the marker.</summary>
public class ConsumerTests
{
    private static readonly Policy Lazy = Policy.Lazy;

    [Fact]
    public void Guest_CPUID_clears_the_marker_first_then_answers_from_the_updated_table()
    {
        var s = Kvm.Step(Lazy, Running(Lazy), new VcpuEvent.MovToCr4(0)).State;
        Assert.True(s.Vcpu.CpuidDynamicBitsDirty);

        var t = Kvm.Step(Lazy, s, new VcpuEvent.Cpuid(1, 0));

        var answer = Assert.IsType<Observation.CpuidResult>(t.Observation);
        Assert.False(Bit(answer.Ecx, 27));
        Assert.False(t.State.Vcpu.CpuidDynamicBitsDirty);
        Assert.False(Bit(t.State.Vcpu.Cpuid.Find(1, 0)!.Value.Ecx, 27));
        Assert.Equal(1, t.Effort.RuntimeUpdates);
    }

    [Fact]
    public void Faulting_CPUID_at_CPL3_raises_GP_without_materializing()
    {
        var s = Running(Lazy);
        s = Kvm.Step(Lazy, s, new VcpuEvent.Wrmsr(Msr.MiscFeaturesEnables, Msr.MiscFeaturesCpuidFault)).State;
        s = Kvm.Step(Lazy, s, new VcpuEvent.MovToCr4(0)).State;
        s = Kvm.Step(Lazy, s, new VcpuEvent.SetCpl(3)).State;

        var t = Kvm.Step(Lazy, s, new VcpuEvent.Cpuid(1, 0));

        Assert.Equal(new Observation.Fault(X86Exception.GP), t.Observation);
        Assert.True(t.State.Vcpu.CpuidDynamicBitsDirty);
        Assert.Equal(0, t.Effort.RuntimeUpdates);
    }

    [Fact]
    public void CPUID_faulting_does_not_apply_at_CPL0()
    {
        var s = Running(Lazy);
        s = Kvm.Step(Lazy, s, new VcpuEvent.Wrmsr(Msr.MiscFeaturesEnables, Msr.MiscFeaturesCpuidFault)).State;
        Assert.IsType<Observation.CpuidResult>(Kvm.Step(Lazy, s, new VcpuEvent.Cpuid(1, 0)).Observation);
    }

    [Fact]
    public void GET_CPUID2_with_a_small_buffer_is_E2BIG_and_does_not_materialize()
    {
        var s = Kvm.Step(Lazy, Running(Lazy), new VcpuEvent.MovToCr4(0)).State;
        var t = Kvm.Step(Lazy, s, new VcpuEvent.GetCpuid2(s.Vcpu.Cpuid.Count - 1));
        Assert.Equal(new Observation.IoctlError(Errno.E2BIG), t.Observation);
        Assert.True(t.State.Vcpu.CpuidDynamicBitsDirty);
        Assert.Same(s.Vcpu, t.State.Vcpu);
    }

    [Fact]
    public void GET_CPUID2_materializes_and_copies_the_table_out()
    {
        var s = Kvm.Step(Lazy, Running(Lazy), new VcpuEvent.Xsetbv(0, 0xE7)).State;
        var t = Kvm.Step(Lazy, s, new VcpuEvent.GetCpuid2(s.Vcpu.Cpuid.Count));
        var table = Assert.IsType<Observation.Cpuid2>(t.Observation).Table;
        Assert.Equal(0xA80u, table.Find(0xD, 0)!.Value.Ebx);
        Assert.Equal(0x980u, table.Find(0xD, 1)!.Value.Ebx);
        Assert.False(t.State.Vcpu.CpuidDynamicBitsDirty);
    }

    [Fact]
    public void SET_CPUID2_before_the_first_run_installs_and_materializes_the_new_table()
    {
        var vm = Vm();
        var created = KvmState.Create(vm, Lazy);
        Assert.True(created.Vcpu.CpuidDynamicBitsDirty);
        // The table says APIC=1; the vCPU's APIC is disabled before the table arrives.
        var apicOff = Kvm.Step(Lazy, created, new VcpuEvent.SetSregs(0, 0xFEE0_0100)).State;

        var t = Kvm.Step(Lazy, apicOff, new VcpuEvent.SetCpuid2(SkylakeGuest));

        Assert.Equal(new Observation.IoctlDone(0), t.Observation);
        Assert.False(t.State.Vcpu.CpuidDynamicBitsDirty);
        Assert.False(Bit(t.State.Vcpu.Cpuid.Find(1, 0)!.Value.Edx, 9));
    }

    [Fact]
    public void SET_CPUID2_with_more_than_256_entries_is_E2BIG()
    {
        var big = CpuidTable.Of(Enumerable.Range(0, 257).Select(i => CpuidEntry.Indexed(0x4000_0000, (uint)i, 0, 0, 0, 0)));
        var t = Kvm.Step(Lazy, Fresh(Lazy), new VcpuEvent.SetCpuid2(big));
        Assert.Equal(new Observation.IoctlError(Errno.E2BIG), t.Observation);
    }

    [Fact]
    public void SET_CPUID2_with_a_virtual_address_width_other_than_48_or_57_is_EINVAL_and_keeps_the_old_table()
    {
        var bad = CpuidTable.Of(SkylakeGuest.Entries.Select(e => e.Function == 0x8000_0008 ? e with { Eax = 0x2A2E } : e));
        var s = Fresh(Lazy);
        var t = Kvm.Step(Lazy, s, new VcpuEvent.SetCpuid2(bad));
        Assert.Equal(new Observation.IoctlError(Errno.EINVAL), t.Observation);
        Assert.Equal(s.Vcpu.Cpuid, t.State.Vcpu.Cpuid);
    }

    [Fact]
    public void SET_CPUID2_after_run_accepts_the_same_model_and_refuses_a_changed_one()
    {
        var s = Running(Lazy);
        var current = Assert.IsType<Observation.Cpuid2>(Kvm.Step(Lazy, s, new VcpuEvent.GetCpuid2(256)).Observation).Table;

        Assert.Equal(new Observation.IoctlDone(0), Kvm.Step(Lazy, s, new VcpuEvent.SetCpuid2(current)).Observation);

        var changed = current.SetItem(current.IndexOf(7, 0), current.Find(7, 0)!.Value with { Ebx = 0 });
        Assert.Equal(new Observation.IoctlError(Errno.EINVAL), Kvm.Step(Lazy, s, new VcpuEvent.SetCpuid2(changed)).Observation);
    }

    [Fact]
    public void SET_CPUID2_after_run_ignores_differences_in_dynamic_bits_only()
    {
        var s = Running(Lazy);
        var current = Assert.IsType<Observation.Cpuid2>(Kvm.Step(Lazy, s, new VcpuEvent.GetCpuid2(256)).Observation).Table;
        var flipped = current.SetItem(current.IndexOf(1, 0), current.Find(1, 0)!.Value.WithBit(CpuidRegister.Ecx, 27, false));
        Assert.Equal(new Observation.IoctlDone(0), Kvm.Step(Lazy, s, new VcpuEvent.SetCpuid2(flipped)).Observation);
    }

    [Fact]
    public void MONITOR_MWAIT_never_faults_while_MWAIT_NEVER_UD_FAULTS_is_in_effect()
    {
        Assert.Equal(new Observation.MwaitNop(), Kvm.Step(Lazy, Running(Lazy), new VcpuEvent.MonitorMwait()).Observation);
    }

    [Theory]
    [InlineData(KernelProfile.Linux6_1)]
    [InlineData(KernelProfile.Linux6_18)]
    public void MONITOR_MWAIT_above_CPL0_is_UD_even_where_the_quirk_would_make_it_a_NOP(KernelProfile profile)
    {
        // The processor's privilege check comes before the intercept; KVM's #UD handler does not emulate MONITOR/MWAIT.
        var s = Kvm.Step(Lazy, Running(Lazy, profile), new VcpuEvent.SetCpl(3)).State;
        Assert.True(s.Vm.QuirkInEffect(KvmQuirks.MwaitNeverUdFaults));

        Assert.Equal(new Observation.Fault(X86Exception.UD), Kvm.Step(Lazy, s, new VcpuEvent.MonitorMwait()).Observation);
        Assert.Equal(new Observation.MwaitNop(), Kvm.Step(Lazy, Kvm.Step(Lazy, s, new VcpuEvent.SetCpl(0)).State, new VcpuEvent.MonitorMwait()).Observation);
    }

    [Fact]
    public void MONITOR_MWAIT_follows_the_userspace_bit_with_NO_MWAIT_in_effect_and_MISC_ENABLE_once_disabled()
    {
        var noMwait = CpuidTable.Of(SkylakeGuest.Entries.Select(e => e.Function == 1 ? e.WithBit(CpuidRegister.Ecx, 3, false) : e));
        var s = KvmState.WithCpuid(Vm(), Lazy, noMwait);
        s = Kvm.Step(Lazy, s, new VcpuEvent.DisableQuirks2((ulong)KvmQuirks.MwaitNeverUdFaults)).State;
        // Userspace cleared MWAIT in CPUID.1:ECX, and owns that bit while MISC_ENABLE_NO_MWAIT is in effect.
        Assert.Equal(new Observation.Fault(X86Exception.UD), Kvm.Step(Lazy, s, new VcpuEvent.MonitorMwait()).Observation);

        s = Kvm.Step(Lazy, s, new VcpuEvent.DisableQuirks2((ulong)KvmQuirks.MiscEnableNoMwait)).State;
        s = Kvm.Step(Lazy, s, new VcpuEvent.Wrmsr(Msr.MiscEnable, Msr.MiscEnableDefault | Msr.MiscEnableMwait)).State;
        Assert.Equal(new Observation.MwaitNop(), Kvm.Step(Lazy, s, new VcpuEvent.MonitorMwait()).Observation);
    }

    [Fact]
    public void The_marker_is_cleared_only_by_the_runtime_update()
    {
        var s = Kvm.Step(Lazy, Running(Lazy), new VcpuEvent.MovToCr4(0)).State;
        VcpuEvent[] nonConsumers =
        [
            new VcpuEvent.Xsetbv(0, 0x3),
            new VcpuEvent.Wrmsr(Msr.TsxCtrl, 2),
            new VcpuEvent.Rdmsr(Msr.ApicBase),
            new VcpuEvent.SetCpl(3),
            new VcpuEvent.SetCpl(0),
            new VcpuEvent.DisableQuirks2(0),
            new VcpuEvent.GetCpuid2(1),
            new VcpuEvent.MonitorMwait(),
        ];
        foreach (var e in nonConsumers)
        {
            s = Kvm.Step(Lazy, s, e).State;
            Assert.True(s.Vcpu.CpuidDynamicBitsDirty, $"{e} cleared the marker");
        }
    }

    [Fact]
    public void SET_CPUID2_derives_the_static_capabilities_once_like_kvm_vcpu_after_set_cpuid()
    {
        var created = KvmState.Create(Vm(), Lazy);
        // Before KVM_SET_CPUID2 (6.14 and later): the capabilities of an empty table, and KVM's own reserved CR4 bits.
        var reserved = GuestCaps.None.Cr4ReservedByFeatures | SupportedCpuid.Cr4ReservedBits(Skylake, KernelProfile.Linux6_18);
        Assert.Equal(GuestCaps.None with { Cr4ReservedByFeatures = reserved }, created.Vcpu.Guest);
        Assert.Equal(36, created.Vcpu.Guest.MaxPhysAddr);

        var s = Kvm.Step(Lazy, created, new VcpuEvent.SetCpuid2(SkylakeGuest)).State;

        Assert.True(CpuidFunctional.Core.Dynamic.GuestCpuCaps.Has(s.Vcpu, CpuidFunctional.Core.Dynamic.GuestFeature.Xsave));
        Assert.Equal(0x2FFul, s.Vcpu.Guest.SupportedXcr0);
        Assert.Equal(0ul, s.Vcpu.Guest.SupportedXss); // Skylake-SP's only supervisor component is PT, which KVM does not support
        var cet = Kvm.Step(Lazy, KvmState.Create(new Vm(Cet), Lazy), new VcpuEvent.SetCpuid2(CetGuest)).State;
        Assert.Equal(Xss.CetAll, cet.Vcpu.Guest.SupportedXss);
        Assert.Equal(46, s.Vcpu.Guest.MaxPhysAddr);
        Assert.Equal(0ul, s.Vcpu.Guest.Cr4ReservedByFeatures & (Cr4.OsXsave | Cr4.Pke | Cr4.Vmxe));
        // Events other than KVM_SET_CPUID2 never change them.
        var after = TestHosts.Run(Lazy, s, new VcpuEvent.Run(), new VcpuEvent.MovToCr4(Cr4.OsXsave), new VcpuEvent.Reset(), new VcpuEvent.GetCpuid2(256)).State;
        Assert.Equal(s.Vcpu.Guest, after.Vcpu.Guest);
    }
}
