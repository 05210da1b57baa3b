using CpuidFunctional.Core.Host;

namespace CpuidFunctional.Core.Model;

/// <summary>VM-level state: the host KVM runs on, the kernel profile, and which quirks userspace disabled.</summary>
/// <param name="Host">The host processor (its XSAVE layout feeds the size outputs).</param>
/// <param name="Profile">The kernel version whose rules apply.</param>
/// <param name="DisabledQuirks">Quirks disabled through KVM_CAP_DISABLE_QUIRKS2 (from 6.16 OR-ed in, so a quirk cannot be re-enabled; 6.1 and 6.15 assign the mask, <see cref="KernelProfiles.AssignsDisabledQuirks"/>).</param>
/// <param name="SupportedQuirks">
/// Quirks that may be disabled (others give EINVAL); by default (<see cref="KvmQuirks.ProfileDefault"/>) what the
/// profile's KVM offers on the host (<see cref="KernelProfiles.SupportedQuirks"/>).
/// </param>
public sealed record Vm(
    HostCpu Host,
    KernelProfile Profile = KernelProfile.Linux6_18,
    KvmQuirks DisabledQuirks = KvmQuirks.None,
    KvmQuirks SupportedQuirks = KvmQuirks.ProfileDefault
)
{
    /// <summary>
    /// Quirks that may be disabled; others give EINVAL. Resolved when the VM is made: <c>with { Profile = ... }</c>
    /// keeps the mask it has.
    /// </summary>
    public KvmQuirks SupportedQuirks { get; init; } =
        SupportedQuirks == KvmQuirks.ProfileDefault ? KernelProfiles.SupportedQuirks(Profile, Host) : SupportedQuirks;

    /// <summary>
    /// Whether the process that owns the VM asked for AMX tile data for its guests before creating the vCPU
    /// (<c>arch_prctl(ARCH_REQ_XCOMP_GUEST_PERM, XFEATURE_XTILE_DATA)</c>, as a VMM offering AMX and the selftest amx_test
    /// do). True by default. Without it (the kernel's default permissions) KVM_GET_SUPPORTED_CPUID leaves AMX out of
    /// CPUID.0xD.0 and KVM_SET_CPUID2 refuses a table that offers XTILEDATA with EPERM
    /// (<see cref="SupportedCpuid.GuestMayUseXtileData"/>). The kernel locks the permissions when the first vCPU is
    /// created, so a VM keeps what it was made with.
    /// </summary>
    public bool XcompGuestPermRequested { get; init; } = true;

    /// <summary>
    /// The exits KVM_CAP_X86_DISABLE_EXITS disabled (<see cref="DisableExits"/>); none by default. From 6.14 only before
    /// the first vCPU (<see cref="DisableExits.Enable"/>).
    /// </summary>
    public ulong DisabledExits { get; init; }

    /// <summary><c>kvm_hlt_in_guest</c>: HLT exits are disabled, so KVM clears KVM_FEATURE_PV_UNHALT from guest tables (<see cref="PvFeatures"/>).</summary>
    public bool HltInGuest => (DisabledExits & DisableExits.Hlt) != 0;

    /// <summary><c>kvm_check_has_quirk</c>: a quirk is in effect unless userspace disabled it.</summary>
    public bool QuirkInEffect(KvmQuirks quirk) => (DisabledQuirks & quirk) == 0;

    /// <summary>
    /// MSR_PLATFORM_INFO of a vCPU created in this VM (<c>kvm_arch_vcpu_create</c>): CPUID faulting supported only
    /// while KVM_X86_QUIRK_STUFF_FEATURE_MSRS is in effect (6.1, which has no such quirk: always).
    /// </summary>
    public ulong PlatformInfoAtCreation => QuirkInEffect(KvmQuirks.StuffFeatureMsrs) ? State.Msr.PlatformInfoCpuidFault : 0;

    /// <summary>
    /// Whether a vCPU created in this VM has TSX_CTRL_MSR in its IA32_ARCH_CAPABILITIES (<c>kvm_arch_vcpu_create</c>
    /// copies KVM's capabilities only while KVM_X86_QUIRK_STUFF_FEATURE_MSRS is in effect; 6.1 always): only where the
    /// host has IA32_TSX_CTRL at all (<see cref="Kvm.HasTsxCtrl"/>).
    /// </summary>
    public bool TsxCtrlInArchCapabilitiesAtCreation => QuirkInEffect(KvmQuirks.StuffFeatureMsrs) && Kvm.HasTsxCtrl(Host);
}
