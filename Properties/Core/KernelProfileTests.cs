using static CpuidFunctional.Properties.Core.TestHosts;

namespace CpuidFunctional.Properties.Core;

/// <summary>
/// Each rule in which the Linux 6.1 profile differs from 6.18 (Core/Model/KernelProfiles.cs, docs/semantics.md
/// "Kernel profiles"), shown on one event sequence under both profiles.
/// </summary>
public class KernelProfileTests
{
    private static readonly Policy Eager = Policy.Eager;
    private static readonly Observation Ok = new Observation.IoctlDone(0);
    private static readonly Observation Einval = new Observation.IoctlError(Errno.EINVAL);

    private static KvmState Fresh61(HostCpu? host = null, CpuidTable? guest = null) =>
        KvmState.WithCpuid(new Vm(host ?? Skylake, KernelProfile.Linux6_1), Eager, guest ?? SkylakeGuest);

    private static Observation? Last(KvmState start, params VcpuEvent[] events) => Run(Eager, start, events).Observations[^1];

    private static CpuidTable Edit(CpuidTable t, uint leaf, uint subleaf, Func<CpuidEntry, CpuidEntry> edit)
    {
        var i = leaf == 1 ? t.IndexOfFunction(1) : t.IndexOf(leaf, subleaf);
        return t.SetItem(i, edit(t[i]));
    }

    [Theory]
    [InlineData(KernelProfile.Linux6_1)]
    [InlineData(KernelProfile.Linux6_15)]
    [InlineData(KernelProfile.Linux6_18)]
    public void CR4_SMXE_and_PKS_are_refused_by_KVM_SET_SREGS_on_every_profile(KernelProfile profile)
    {
        var s = profile == KernelProfile.Linux6_1 ? Fresh61() : Fresh(Eager, profile);
        Assert.Equal(Einval, Last(s, new VcpuEvent.SetSregs(Cr4.Smxe, Msr.ApicBaseDefault)));
        Assert.Equal(Einval, Last(s, new VcpuEvent.SetSregs(Cr4.Pks, Msr.ApicBaseDefault)));
        Assert.Equal(Ok, Last(s, new VcpuEvent.SetSregs(Cr4.Pae | Cr4.OsXsave, Msr.ApicBaseDefault)));
    }

    [Fact]
    public void CR4_CET_is_refused_on_6_1_even_for_a_guest_with_shadow_stacks_and_accepted_on_6_18_where_KVM_supports_CET()
    {
        var setCet = new VcpuEvent.SetSregs(Cr4.Cet, Msr.ApicBaseDefault);
        Assert.Equal(Ok, Last(KvmState.WithCpuid(new Vm(Cet), Eager, CetGuest), setCet));
        Assert.Equal(Einval, Last(Fresh61(Cet, CetGuest), setCet));
        // A guest table that claims CET_SS on a host without it: KVM's own cr4_reserved_bits refuse CET on 6.18 too.
        var claimsCet = Edit(SkylakeGuest, 7, 0, e => e.WithBit(CpuidRegister.Ecx, 7, true));
        Assert.Equal(Einval, Last(KvmState.WithCpuid(Vm(), Eager, claimsCet), setCet));
    }

    /// <summary>
    /// A VM's supported-quirk mask is its profile's unless given: the default argument stands for "the profile's", an
    /// explicit one is kept as given, and the sentinel itself is never a supported bit.
    /// </summary>
    [Fact]
    public void A_vm_offers_its_profiles_quirks_unless_told_otherwise()
    {
        Assert.Equal(KvmQuirks.Supported6_18 | KvmQuirks.IgnoreGuestPat, new Vm(Skylake).SupportedQuirks);
        Assert.Equal(KvmQuirks.Supported6_1, new Vm(Skylake, KernelProfile.Linux6_1).SupportedQuirks);
        Assert.Equal(KvmQuirks.Supported6_15, new Vm(Skylake, KernelProfile.Linux6_15).SupportedQuirks);
        Assert.Equal(KvmQuirks.Supported6_1, new Vm(Skylake, SupportedQuirks: KvmQuirks.Supported6_1).SupportedQuirks);
        var s = KvmState.WithCpuid(new Vm(Skylake), Eager, SkylakeGuest);
        Assert.Equal(Einval, Last(s, new VcpuEvent.DisableQuirks2((ulong)KvmQuirks.ProfileDefault)));
    }

    /// <summary>
    /// KVM_X86_QUIRK_VMCS12_ALLOW_FREEZE_IN_SMM (bit 10) is newer than 6.17: only the 6.18 profile (the live 6.18.44
    /// build, which has the stable backport) accepts it; STUFF_FEATURE_MSRS (bit 8, 6.13) is there from 6.15. A VM made
    /// with only a profile gets that profile's mask.
    /// </summary>
    [Theory]
    [InlineData(KernelProfile.Linux6_1, false, false)]
    [InlineData(KernelProfile.Linux6_15, true, false)]
    [InlineData(KernelProfile.Linux6_18, true, true)]
    public void Which_quirks_KVM_CAP_DISABLE_QUIRKS2_takes_depends_on_the_kernel(KernelProfile profile, bool stuffFeatureMsrs, bool vmcs12FreezeInSmm)
    {
        var s = KvmState.WithCpuid(new Vm(Skylake, profile), Eager, SkylakeGuest);
        Assert.Equal(stuffFeatureMsrs ? Ok : Einval, Last(s, new VcpuEvent.DisableQuirks2((ulong)KvmQuirks.StuffFeatureMsrs)));
        Assert.Equal(vmcs12FreezeInSmm ? Ok : Einval, Last(s, new VcpuEvent.DisableQuirks2((ulong)KvmQuirks.Vmcs12AllowFreezeInSmm)));
    }

    /// <summary>
    /// Before "do not allow re-enabling quirks" (6.16) KVM_CAP_DISABLE_QUIRKS2 assigned its mask, so a later zero switched
    /// MISC_ENABLE_NO_MWAIT back on; 6.18 ORs the mask in.
    /// </summary>
    [Theory]
    [InlineData(KernelProfile.Linux6_1, true)]
    [InlineData(KernelProfile.Linux6_15, true)]
    [InlineData(KernelProfile.Linux6_18, false)]
    public void Until_6_16_disabling_quirks_assigns_the_mask_so_a_later_zero_re_enables_MISC_ENABLE_NO_MWAIT(KernelProfile profile, bool reenabled)
    {
        var noMwait = (ulong)KvmQuirks.MiscEnableNoMwait;
        var s = Run(Eager, KvmState.WithCpuid(new Vm(Skylake, profile), Eager, SkylakeGuest), new VcpuEvent.DisableQuirks2(noMwait), new VcpuEvent.DisableQuirks2(0)).State;
        Assert.Equal(reenabled, s.Vm.QuirkInEffect(KvmQuirks.MiscEnableNoMwait));
        Assert.Equal(reenabled, KernelProfiles.AssignsDisabledQuirks(profile));
    }

    [Fact]
    public void Kernel_6_1_offers_quirks_0x7F_only() =>
        Assert.Equal(Einval, Last(Fresh61(), new VcpuEvent.DisableQuirks2((ulong)KvmQuirks.SlotZapAll)));

    /// <summary>
    /// IGNORE_GUEST_PAT (bit 9, 6.16) is offered where KVM has EPT or NPT, on Intel only with self-snoop: the model takes
    /// the presets' hosts as having them enabled (the live PVM kernel pages in software and reports 0x5FF).
    /// </summary>
    [Fact]
    public void On_6_18_IGNORE_GUEST_PAT_needs_self_snoop_on_Intel_and_nothing_on_AMD()
    {
        var noSelfSnoop = HostCpu.FromCpuid("skylake without SS", CpuidTable.Of(Skylake.Cpuid.Entries.Select(e => e.Function == 1 ? e.WithBit(CpuidRegister.Edx, 27, false) : e)));

        Assert.True(Skylake.HasSelfSnoop);
        Assert.Equal((KvmQuirks)0x7FF, new Vm(Skylake).SupportedQuirks);
        Assert.Equal((KvmQuirks)0x7FF, new Vm(HostPresets.Genoa).SupportedQuirks);
        Assert.Equal((KvmQuirks)0x5FF, new Vm(noSelfSnoop).SupportedQuirks);
        Assert.Equal((KvmQuirks)0x1FF, new Vm(HostPresets.Genoa, KernelProfile.Linux6_15).SupportedQuirks);
        Assert.Equal(Ok, Last(KvmState.WithCpuid(new Vm(Skylake), Eager, SkylakeGuest), new VcpuEvent.DisableQuirks2((ulong)KvmQuirks.IgnoreGuestPat)));
        Assert.Equal(Einval, Last(KvmState.WithCpuid(new Vm(noSelfSnoop), Eager, SkylakeGuest), new VcpuEvent.DisableQuirks2((ulong)KvmQuirks.IgnoreGuestPat)));
    }

    [Theory]
    [InlineData(KernelProfile.Linux6_1, 0ul)]
    [InlineData(KernelProfile.Linux6_15, 0ul)]
    [InlineData(KernelProfile.Linux6_18, Xss.CetAll)]
    public void IA32_XSS_accepts_only_the_CET_components_and_only_from_6_18(KernelProfile profile, ulong supported)
    {
        var host = HostPresets.SapphireRapids;
        Assert.Equal(Xss.Pt, host.SupportedXss & Xss.Pt); // the dump offers PT and CET, and more
        Assert.Equal(supported, KernelProfiles.SupportedXss(profile, host));
        Assert.Equal(0ul, KernelProfiles.SupportedXss(profile, HostPresets.SkylakeSp)); // PT only: never supported
        var start = KvmState.WithCpuid(new Vm(host, profile), Eager, host.Cpuid);
        foreach (var bit in new[] { Xss.Pt, Xss.CetUser, Xss.CetKernel })
        {
            var written = Last(start, new VcpuEvent.SetMsrs(new([new MsrEntry(Msr.Xss, bit)])));
            Assert.Equal((supported & bit) != 0 ? new Observation.IoctlDone(1) : Ok, written); // Ok: 0 entries processed
        }
        Assert.Equal(new Observation.IoctlDone(1), Last(start, new VcpuEvent.SetMsrs(new([new MsrEntry(Msr.Xss, 0)]))));
    }

    /// <summary>
    /// 6.18's <c>kvm_set_msr_common</c> calls IA32_XSS unsupported without guest XSAVES, host write or not;
    /// <c>kvm_do_msr_access</c> then accepts a host write of 0 (a no-op) only to an MSR KVM lists, and KVM lists IA32_XSS
    /// only where it supports the CET components (Sapphire Rapids), not on Skylake-SP. 6.15 lets the host write 0 anyway.
    /// </summary>
    [Fact]
    public void From_6_18_the_host_may_write_IA32_XSS_only_with_guest_XSAVES_except_a_no_op_zero_where_KVM_lists_the_MSR()
    {
        static KvmState NoXsavesOn(HostCpu host, KernelProfile profile) =>
            KvmState.WithCpuid(new Vm(host, profile), Eager, WithoutXsaves(host.Cpuid));
        var zero = new VcpuEvent.SetMsrs(new([new MsrEntry(Msr.Xss, 0)]));
        var listed = NoXsavesOn(HostPresets.SapphireRapids, KernelProfile.Linux6_18);
        Assert.Equal(Ok, Last(listed, new VcpuEvent.SetMsrs(new([new MsrEntry(Msr.Xss, Xss.CetUser)]))));
        Assert.Equal(new Observation.IoctlDone(1), Last(listed, zero));
        Assert.Equal(Ok, Last(NoXsavesOn(HostPresets.SkylakeSp, KernelProfile.Linux6_18), zero)); // 0 entries processed
        Assert.Equal(new Observation.IoctlDone(1), Last(NoXsavesOn(HostPresets.SapphireRapids, KernelProfile.Linux6_15), zero));
        Assert.Equal(new Observation.IoctlDone(1), Last(NoXsavesOn(HostPresets.SkylakeSp, KernelProfile.Linux6_15), zero));
    }

    /// <summary>
    /// MSR_PLATFORM_INFO is the host's (a guest WRMSR is a #GP) and says whether MISC_FEATURES_ENABLES may turn CPUID
    /// faulting on, for the host too (<c>supports_cpuid_fault</c>). 6.18 takes any host value before the first KVM_RUN
    /// and only the value it has after (a feature MSR); 6.1 takes one at any time but refuses to clear the support
    /// while faulting is on (<c>cpuid_fault_enabled</c>).
    /// </summary>
    [Fact]
    public void The_host_may_clear_CPUID_faulting_support_in_PLATFORM_INFO_before_KVM_RUN_or_on_6_1_while_faulting_is_off()
    {
        var clearSupport = new VcpuEvent.SetMsrs(new([new MsrEntry(Msr.PlatformInfo, 0)]));
        var faultingOn = new VcpuEvent.SetMsrs(new([new MsrEntry(Msr.MiscFeaturesEnables, Msr.MiscFeaturesCpuidFault)]));
        var on618 = Fresh(Eager);
        Assert.Equal(new Observation.Fault(X86Exception.GP), Last(on618, new VcpuEvent.Wrmsr(Msr.PlatformInfo, 0)));
        Assert.Equal(new Observation.IoctlDone(1), Last(on618, clearSupport));
        Assert.Equal(new Observation.MsrValue(Msr.PlatformInfo, 0), Last(on618, clearSupport, new VcpuEvent.Rdmsr(Msr.PlatformInfo)));
        Assert.Equal(Ok, Last(on618, clearSupport, faultingOn)); // KVM_SET_MSRS stopped at entry 0
        Assert.Equal(new Observation.Fault(X86Exception.GP), Last(on618, clearSupport, new VcpuEvent.Wrmsr(Msr.MiscFeaturesEnables, 1)));
        Assert.Equal(new Observation.IoctlDone(1), Last(on618, faultingOn, clearSupport));
        Assert.Equal(new Observation.IoctlDone(1), Last(Fresh61(), clearSupport));
        Assert.Equal(Ok, Last(Fresh61(), faultingOn, clearSupport));

        var keepSupport = new VcpuEvent.SetMsrs(new([new MsrEntry(Msr.PlatformInfo, Msr.PlatformInfoCpuidFault)]));
        Assert.Equal(Ok, Last(on618, new VcpuEvent.Run(), clearSupport)); // a feature MSR: fixed once the vCPU has run
        Assert.Equal(new Observation.IoctlDone(1), Last(on618, new VcpuEvent.Run(), keepSupport)); // its own value is fine
        Assert.Equal(new Observation.IoctlDone(1), Last(Fresh61(), new VcpuEvent.Run(), clearSupport));
    }

    /// <summary>
    /// <c>kvm_arch_vcpu_create</c> sets PLATFORM_INFO's CPUID-faulting bit only while KVM_X86_QUIRK_STUFF_FEATURE_MSRS
    /// is in effect: a VM created with the quirk disabled reads 0 and cannot turn faulting on.
    /// </summary>
    [Fact]
    public void A_vCPU_created_without_the_STUFF_FEATURE_MSRS_quirk_has_no_CPUID_faulting_support()
    {
        var quirkOff = KvmState.WithCpuid(new Vm(Skylake, DisabledQuirks: KvmQuirks.StuffFeatureMsrs), Eager, SkylakeGuest);
        Assert.Equal(new Observation.MsrValue(Msr.PlatformInfo, 0), Last(quirkOff, new VcpuEvent.Rdmsr(Msr.PlatformInfo)));
        Assert.Equal(new Observation.Fault(X86Exception.GP), Last(quirkOff, new VcpuEvent.Wrmsr(Msr.MiscFeaturesEnables, 1)));
        Assert.Equal(new Observation.MsrValue(Msr.PlatformInfo, Msr.PlatformInfoCpuidFault), Last(Fresh(Eager), new VcpuEvent.Rdmsr(Msr.PlatformInfo)));
    }

    [Fact]
    public void On_6_1_OSPKE_keeps_the_userspace_value_when_the_host_kernel_has_no_PKU()
    {
        var noPku = HostCpu.FromCpuid("Skylake-SP without PKU", Edit(SkylakeCpuid, 7, 0, e => e.WithBit(CpuidRegister.Ecx, 3, false)));
        var guest = Edit(SkylakeGuest, 7, 0, e => e.WithBit(CpuidRegister.Ecx, 4, true)); // userspace says OSPKE=1
        var s = Fresh61(noPku, guest);
        var answer = Assert.IsType<Observation.CpuidResult>(Last(s, new VcpuEvent.Run(), new VcpuEvent.Cpuid(7, 0)));
        Assert.True(Bit(answer.Ecx, 4), "6.1 leaves OSPKE alone without host PKU");
        var on618 = KvmState.WithCpuid(new Vm(noPku, KernelProfile.Linux6_18), Eager, guest);
        var current = Assert.IsType<Observation.CpuidResult>(Last(on618, new VcpuEvent.Run(), new VcpuEvent.Cpuid(7, 0)));
        Assert.False(Bit(current.Ecx, 4), "6.18 always writes CR4.PKE (0) into OSPKE");
    }

    [Fact]
    public void On_6_1_rewriting_an_APIC_base_that_became_invalid_fails_where_6_18_returns_at_once()
    {
        var x2apic = Msr.ApicBaseDefault | Msr.ApicBaseExtd;
        var withoutX2apic = Edit(SkylakeGuest, 1, 0, e => e.WithBit(CpuidRegister.Ecx, 21, false));
        VcpuEvent[] events =
        [
            new VcpuEvent.SetMsrs(new([new MsrEntry(Msr.ApicBase, x2apic)])),
            new VcpuEvent.SetCpuid2(withoutX2apic), // before the first run: EXTD is now reserved
            new VcpuEvent.SetMsrs(new([new MsrEntry(Msr.ApicBase, x2apic)])),
        ];
        Assert.Equal(Ok, Run(Eager, Fresh61(), events).Observations[^1]); // KVM_SET_MSRS stopped at entry 0
        Assert.Equal(new Observation.IoctlDone(1), Run(Eager, Fresh(Eager), events).Observations[^1]);
    }

    [Fact]
    public void On_6_1_MONITOR_MWAIT_reads_the_guest_CPUID_bit_even_with_MISC_ENABLE_NO_MWAIT_disabled()
    {
        var guest = Edit(SkylakeGuest, 1, 0, e => e.WithBit(CpuidRegister.Ecx, 3, true)); // MWAIT=1 from userspace
        VcpuEvent[] events =
        [
            new VcpuEvent.DisableQuirks2((ulong)(KvmQuirks.MwaitNeverUdFaults | KvmQuirks.MiscEnableNoMwait)),
            new VcpuEvent.Run(),
            new VcpuEvent.MonitorMwait(), // MISC_ENABLE[18] is 0 and nothing has updated the table since
        ];
        Assert.Equal(new Observation.MwaitNop(), Run(Eager, Fresh61(guest: guest), events).Observations[^1]);
        var on618 = KvmState.WithCpuid(Vm(), Eager, guest);
        Assert.Equal(new Observation.Fault(X86Exception.UD), Run(Eager, on618, events).Observations[^1]);
    }

    /// <summary>
    /// Why Lazy is checked against Eager only on 6.15 and 6.18: under 6.1's MONITOR/MWAIT rule (the guest CPUID's
    /// MWAIT bit, a dynamic output once MISC_ENABLE_NO_MWAIT is off) a lazy scheme would read a stale bit while an
    /// update is pending. 6.15's <c>kvm_emulate_monitor_mwait</c> reads IA32_MISC_ENABLE[18] instead.
    /// </summary>
    [Fact]
    public void Under_the_6_1_rules_a_lazy_scheme_would_let_MONITOR_MWAIT_read_a_stale_MWAIT_bit()
    {
        var guest = Edit(SkylakeGuest, 1, 0, e => e.WithBit(CpuidRegister.Ecx, 3, true));
        VcpuEvent[] events =
        [
            new VcpuEvent.DisableQuirks2((ulong)(KvmQuirks.MwaitNeverUdFaults | KvmQuirks.MiscEnableNoMwait)),
            new VcpuEvent.Run(),
            new VcpuEvent.Wrmsr(Msr.MiscEnable, Msr.MiscEnableDefault | Msr.MiscEnableMwait), // a trigger
            new VcpuEvent.Wrmsr(Msr.MiscEnable, Msr.MiscEnableDefault), // a trigger: MWAIT is now 0
            new VcpuEvent.MonitorMwait(),
        ];
        var eager = Run(Eager, Fresh61(guest: guest), events).Observations[^1];
        var lazy = Run(Policy.Lazy, KvmState.WithCpuid(Fresh61().Vm, Policy.Lazy, guest), events).Observations[^1];
        Assert.Equal(new Observation.Fault(X86Exception.UD), eager);
        Assert.Equal(new Observation.MwaitNop(), lazy);
    }
}
