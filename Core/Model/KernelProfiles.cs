using CpuidFunctional.Core.Dynamic;
using CpuidFunctional.Core.Host;
using CpuidFunctional.Core.State;

namespace CpuidFunctional.Core.Model;

/// <summary>
/// Every rule in which the kernel profiles differ, one function each, so a reader sees all version differences in
/// one place (docs/semantics.md, "Kernel profiles", has the evidence for each).
/// </summary>
public static class KernelProfiles
{
    /// <summary>
    /// CR4 bits the profile's <c>CR4_RESERVED_BITS</c> reserves beyond <see cref="Cr4.Architectural"/>: CR4.CET entered
    /// the allow-list with the CET series (6.18), CR4.LAM_SUP with LAM (6.8), so 6.1 reserves both and 6.15 CET.
    /// </summary>
    public static ulong AlwaysReservedCr4(KernelProfile profile) =>
        profile switch
        {
            KernelProfile.Linux6_1 => Cr4.Cet | Cr4.LamSup,
            KernelProfile.Linux6_15 => Cr4.Cet,
            _ => 0,
        };

    /// <summary>
    /// <c>kvm_caps.supported_xss</c>, what KVM lets a guest put in IA32_XSS. Before the CET series (6.1, 6.15) the
    /// vendor setup assigns 0, so only 0 is accepted; 6.18 supports the CET components (<c>KVM_SUPPORTED_XSS</c>),
    /// both or neither, and only where the host has them (here: the host's 0xD.1 ECX:EDX).
    /// </summary>
    public static ulong SupportedXss(KernelProfile profile, HostCpu host) =>
        profile >= KernelProfile.Linux6_18 && (host.SupportedXss & Xss.CetAll) == Xss.CetAll ? Xss.CetAll : 0;

    /// <summary>
    /// Whether KVM lists IA32_XSS in KVM_GET_MSR_INDEX_LIST (<c>kvm_probe_msr_to_save</c> drops it while
    /// <c>kvm_caps.supported_xss</c> is 0, see <see cref="SupportedXss"/>). From 6.18 only such a listed MSR takes a
    /// host write of 0 that its handler calls unsupported (<c>kvm_do_msr_access</c>).
    /// </summary>
    public static bool AdvertisesXss(KernelProfile profile, HostCpu host) => SupportedXss(profile, host) != 0;

    /// <summary>
    /// Whether a new vCPU already has the capabilities of an empty CPUID table (6.14's "do all post-set CPUID
    /// processing during vCPU creation", 85e5ba83c016): from then on KVM refuses every feature-gated CR4 bit until
    /// KVM_SET_CPUID2 (the selftest set_sregs_test was rewritten for it). On 6.1 a vCPU without KVM_SET_CPUID2 has no
    /// guest reserved bits (<c>cr4_guest_rsvd_bits</c> is 0): only KVM's own (<see cref="SupportedCpuid.Cr4ReservedBits"/>) apply.
    /// </summary>
    public static bool DerivesGuestCapsAtVcpuCreation(KernelProfile profile) => profile != KernelProfile.Linux6_1;

    /// <summary>
    /// Whether KVM_GET_SUPPORTED_CPUID hides XTILECFG along with XTILEDATA from a process that may not give a guest AMX
    /// tile data (<c>kvm_get_filtered_xcr0</c>, "Filter out XTILE_CFG if XTILE_DATA isn't permitted", 2023, not in
    /// 6.1.158's source). 6.1 leaves XTILECFG in, which no guest can load alone.
    /// </summary>
    public static bool FiltersXtileCfgWithoutXtileData(KernelProfile profile) => profile != KernelProfile.Linux6_1;

    /// <summary>
    /// Whether <c>kvm_set_cr4</c> itself refuses turning CR4.PCIDE on without guest PCID (6.1; later kernels leave it
    /// to the reserved bits). It matters only where those do not cover it: a 6.1 vCPU before KVM_SET_CPUID2.
    /// </summary>
    public static bool SetCr4ChecksGuestPcid(KernelProfile profile) => profile == KernelProfile.Linux6_1;

    /// <summary>
    /// Whether the canonical checks of segment bases and MSR addresses use the widest virtual address the host allows
    /// (6.13's <c>is_noncanonical_base_address</c>: 57 bits where KVM supports LA57) rather than the vCPU's current one.
    /// </summary>
    public static bool CanonicalChecksUseHostWidth(KernelProfile profile) => profile != KernelProfile.Linux6_1;

    /// <summary>
    /// Whether an L2 VMMCALL that L1 does not intercept is a #UD in L2 whatever the quirks: the 2026 fixes "Always
    /// intercept VMMCALL when L2 is active" and "Raise #UD if unhandled VMMCALL isn't intercepted by L1", in the 6.18.y
    /// and 6.12.y stable kernels but not in the 6.1.y batch that brought the other nSVM fixes. Before, the processor's
    /// #UD reaches L0's #UD handler, which with KVM_X86_QUIRK_FIX_HYPERCALL_INSN in effect rewrites the VMMCALL into
    /// itself and lets L2 run it again, forever (without the quirk it injects the #UD).
    /// </summary>
    public static bool RaisesUdForUnhandledL2Vmmcall(KernelProfile profile) => profile >= KernelProfile.Linux6_18;

    /// <summary>
    /// Whether the nested HOST_RIP check uses the paging L1 will have after the exit (57 bits with HOST_CR4.LA57,
    /// <c>is_l1_noncanonical_address_on_vmexit</c>) rather than the vCPU's current width: the same 6.13 series as
    /// <see cref="CanonicalChecksUseHostWidth"/>, not backported to 6.1.
    /// </summary>
    public static bool HostRipCanonicalForHostCr4(KernelProfile profile) => profile != KernelProfile.Linux6_1;

    /// <summary>
    /// Whether CR4.CET needs CR0.WP: from 6.18, with the CET series, <c>kvm_set_cr4</c> refuses to set CET while WP is
    /// clear and <c>kvm_set_cr0</c> to clear WP while CET is set (a #GP for a guest MOV). Before, CET is reserved anyway
    /// (<see cref="AlwaysReservedCr4"/>).
    /// </summary>
    public static bool CetNeedsWp(KernelProfile profile) => profile >= KernelProfile.Linux6_18;

    /// <summary>
    /// Whether vmcs12 has the CET state fields (GUEST_/HOST_ S_CET, SSP, INTR_SSP_TABLE): added to
    /// <c>vmcs12_field_offsets</c> by the same 6.18 series, so VMREAD/VMWRITE of them is error 12 before.
    /// </summary>
    public static bool Vmcs12HasCetState(KernelProfile profile) => profile >= KernelProfile.Linux6_18;

    /// <summary>
    /// From 6.16 (commit 17a2c62fbf1e) <c>nested_vmx_check_msr_switch</c> refuses an MSR-list count above the maximum
    /// KVM advertises in IA32_VMX_MISC: VMLAUNCH/VMRESUME fail with VM-instruction error 7. Before, the entry failed
    /// at the first entry past the maximum (exit reason 34, or a VMX abort for the exit list). The Linux6_15 profile
    /// stands for 6.15–6.17 and follows 6.15 here, so it does not describe 6.16 and 6.17 on this point.
    /// </summary>
    public static bool ChecksMsrListCount(KernelProfile profile) => profile >= KernelProfile.Linux6_18;

    /// <summary>
    /// Which rule a host write of MSR_PLATFORM_INFO meets. From the 2024 series that added
    /// KVM_X86_QUIRK_STUFF_FEATURE_MSRS (6.13; 6.12.y took it in 2026) it is a feature MSR (<c>msr_based_features_all_except_vmx</c>): any value
    /// before the first KVM_RUN, after it only the value it has (<c>do_set_msr</c>, <c>kvm_is_immutable_feature_msr</c>).
    /// 6.1 takes it at any time, but may not clear CPUID-faulting support while faulting is on (<c>cpuid_fault_enabled</c>).
    /// </summary>
    public static bool PlatformInfoIsFeatureMsr(KernelProfile profile) => profile != KernelProfile.Linux6_1;

    /// <summary>
    /// <c>kvm_caps.supported_quirks</c> (KVM_X86_VALID_QUIRKS before 6.16): what KVM_CAP_DISABLE_QUIRKS2 reports and
    /// accepts. From 6.16 <c>kvm_x86_vendor_init</c> drops IGNORE_GUEST_PAT without two-dimensional paging, and kvm_intel
    /// also on a host without self-snoop (<c>vmx_hardware_setup</c>). The model takes the host as having EPT or NPT
    /// enabled, as the processors of the presets do by default: 6.18 then offers IGNORE_GUEST_PAT on AMD and on Intel
    /// with SELFSNOOP (<see cref="HostCpu.HasSelfSnoop"/>). The live PVM kernel, which pages in software, reports 0x5FF.
    /// </summary>
    public static KvmQuirks SupportedQuirks(KernelProfile profile, HostCpu host) =>
        profile switch
        {
            KernelProfile.Linux6_1 => KvmQuirks.Supported6_1,
            KernelProfile.Linux6_15 => KvmQuirks.Supported6_15,
            _ => KvmQuirks.Supported6_18 | (host.IsAmdOrHygon || host.HasSelfSnoop ? KvmQuirks.IgnoreGuestPat : KvmQuirks.None),
        };

    /// <summary>
    /// Whether KVM_CAP_DISABLE_QUIRKS2 assigns the mask, so that a later, smaller mask re-enables quirks (6.1 and 6.15),
    /// instead of OR-ing it in ("do not allow re-enabling quirks", 9966b7822b3f, in 6.16; 6.12 stable took it in 2026
    /// with VMCS12_ALLOW_FREEZE_IN_SMM, 6.1 stable did not: Debian's 6.1.192 still reports 0x7F). The Linux6_15 profile
    /// stands for 6.15–6.17 and follows 6.15 here, so it does not describe 6.16 and 6.17 on this point.
    /// </summary>
    public static bool AssignsDisabledQuirks(KernelProfile profile) => profile < KernelProfile.Linux6_18;

    /// <summary>
    /// 6.1's <c>__kvm_update_cpuid_runtime</c> rewrites OSXSAVE only if the host kernel has XSAVE and OSPKE only if
    /// it has PKU (<c>boot_cpu_has</c>); the 6.14 CPUID overhaul dropped both gates.
    /// </summary>
    public static bool RewritesOsXsave(KernelProfile profile, HostCpu host) =>
        profile != KernelProfile.Linux6_1 || host.HasXsave;

    /// <inheritdoc cref="RewritesOsXsave"/>
    public static bool RewritesOsPke(KernelProfile profile, HostCpu host) =>
        profile != KernelProfile.Linux6_1 || GuestFeature.Pku.In(host.Cpuid);

    /// <summary>
    /// Whether <c>kvm_apic_set_base</c> returns at once for an unchanged value (6.18 has the short-cut; 6.1's
    /// <c>kvm_set_apic_base</c> checks an unchanged value again, and it can fail after a KVM_SET_CPUID2).
    /// </summary>
    public static bool SkipsUnchangedApicBase(KernelProfile profile) => profile != KernelProfile.Linux6_1;

    /// <summary>
    /// Whether <c>kvm_emulate_monitor_mwait</c> reads IA32_MISC_ENABLE[18] once MISC_ENABLE_NO_MWAIT is disabled
    /// (6.15 patch 4/5); 6.1 reads the guest CPUID's MWAIT bit whatever the quirk.
    /// </summary>
    public static bool MwaitEnableFromMiscEnable(KernelProfile profile) => profile != KernelProfile.Linux6_1;

    /// <summary>6.18 (CET series): CPUID.0xD.1:EBX is the compacted size of XCR0 | IA32_XSS, not of XCR0 alone.</summary>
    public static bool CompactedSizeIncludesXss(KernelProfile profile) => profile >= KernelProfile.Linux6_18;

    /// <summary>6.18: only IA32_XSS writes that change the value trigger; earlier profiles trigger on every accepted write.</summary>
    public static bool XssTriggersOnlyOnChange(KernelProfile profile) => profile >= KernelProfile.Linux6_18;

    /// <summary>
    /// 6.18: a host-initiated IA32_XSS write also needs guest XSAVES (the MSR is then unsupported, and only a write of 0
    /// is accepted, as a no-op, and only where KVM lists the MSR: <see cref="AdvertisesXss"/>); earlier profiles let the
    /// host write any supported value.
    /// </summary>
    public static bool HostXssWriteNeedsXsaves(KernelProfile profile) => profile >= KernelProfile.Linux6_18;

    /// <summary>
    /// 6.18 (CET series): <c>sev_es_sync_from_ghcb</c> also takes IA32_XSS from the GHCB, through the MSR write; 6.1 does
    /// not read it (source read), nor, as modelled, 6.15.
    /// </summary>
    public static bool SevEsSyncsXss(KernelProfile profile) => profile >= KernelProfile.Linux6_18;

    /// <summary>6.18 routes the SEV-ES GHCB's XCR0 through <c>__kvm_set_xcr</c>; earlier profiles copy it unchecked and always trigger.</summary>
    public static bool SevEsXcr0GoesThroughSetXcr(KernelProfile profile) => profile >= KernelProfile.Linux6_18;

    /// <summary>
    /// Whether KVM_CAP_X86_DISABLE_EXITS is refused once a vCPU exists and refuses exits it may not disable (6.14's
    /// "Disallow KVM_CAP_X86_DISABLE_EXITS after vCPU creation" and "Reject disabling of MWAIT/HLT interception when not
    /// allowed"). 6.1 takes any of its four valid bits at any time and silently keeps MWAIT exits where MWAIT may not
    /// run in the guest.
    /// </summary>
    public static bool DisableExitsOnlyBeforeVcpusAndAllowed(KernelProfile profile) => profile != KernelProfile.Linux6_1;

    /// <summary>
    /// Whether KVM_X86_DISABLE_EXITS_APERFMPERF exists (<c>kvm_get_allowed_disable_exits</c> offers it where the host
    /// has APERFMPERF). It came in 6.17; the 6.15 profile, which also stands for 6.16 and 6.17, follows 6.15 here.
    /// </summary>
    public static bool HasAperfMperfExit(KernelProfile profile) => profile >= KernelProfile.Linux6_18;

    /// <summary>
    /// Where KVM clears KVM_FEATURE_PV_UNHALT from the KVM features leaf of a VM whose HLT exits are disabled. From 6.14
    /// (<c>kvm_apply_cpuid_pv_features_quirk</c>) at every KVM_SET_CPUID2, on the table being set, whose KVM signature
    /// leaf gives the base. 6.1 does it in the runtime update (<c>__kvm_update_cpuid_runtime</c>), at the base cached
    /// from the installed table (<c>kvm_cpuid_base</c>), so the update KVM_SET_CPUID2 runs on the incoming table still
    /// uses the previous table's base, and a first table keeps the bit until the next runtime update.
    /// </summary>
    public static bool ClearsPvUnhaltInRuntimeUpdate(KernelProfile profile) => profile == KernelProfile.Linux6_1;

    /// <summary>Whether kvm_amd offers EFER.AUTOIBRS where the host has it (6.3, "Propagate the AMD Automatic IBRS feature to the guest"; 6.1.158's <c>svm_hardware_setup</c> does not).</summary>
    public static bool OffersAutoIbrsEfer(KernelProfile profile) => profile != KernelProfile.Linux6_1;
}
