namespace CpuidFunctional.Core.Model;

/// <summary>The <c>KVM_X86_QUIRK_*</c> bits of <c>arch/x86/include/uapi/asm/kvm.h</c>. A quirk is in effect unless disabled.</summary>
[Flags]
public enum KvmQuirks : ulong
{
    /// <summary>No quirk.</summary>
    None = 0,

    /// <summary>KVM_X86_QUIRK_LINT0_REENABLED.</summary>
    Lint0Reenabled = 1ul << 0,

    /// <summary>KVM_X86_QUIRK_CD_NW_CLEARED.</summary>
    CdNwCleared = 1ul << 1,

    /// <summary>KVM_X86_QUIRK_LAPIC_MMIO_HOLE.</summary>
    LapicMmioHole = 1ul << 2,

    /// <summary>KVM_X86_QUIRK_OUT_7E_INC_RIP.</summary>
    Out7EIncRip = 1ul << 3,

    /// <summary>KVM_X86_QUIRK_MISC_ENABLE_NO_MWAIT: while in effect userspace owns CPUID.1:ECX.MWAIT.</summary>
    MiscEnableNoMwait = 1ul << 4,

    /// <summary>KVM_X86_QUIRK_FIX_HYPERCALL_INSN.</summary>
    FixHypercallInsn = 1ul << 5,

    /// <summary>KVM_X86_QUIRK_MWAIT_NEVER_UD_FAULTS: while in effect MONITOR/MWAIT never #UD.</summary>
    MwaitNeverUdFaults = 1ul << 6,

    /// <summary>KVM_X86_QUIRK_SLOT_ZAP_ALL.</summary>
    SlotZapAll = 1ul << 7,

    /// <summary>KVM_X86_QUIRK_STUFF_FEATURE_MSRS.</summary>
    StuffFeatureMsrs = 1ul << 8,

    /// <summary>
    /// KVM_X86_QUIRK_IGNORE_GUEST_PAT (from 6.16; offered only with EPT/NPT, and on Intel only with self-snoop: not by
    /// the live PVM kernel here, <see cref="KernelProfiles.SupportedQuirks"/>).
    /// </summary>
    IgnoreGuestPat = 1ul << 9,

    /// <summary>KVM_X86_QUIRK_VMCS12_ALLOW_FREEZE_IN_SMM.</summary>
    Vmcs12AllowFreezeInSmm = 1ul << 10,

    /// <summary>KVM_X86_VALID_QUIRKS of Linux 6.1: bits 0–6 (0x7F).</summary>
    Supported6_1 = 0x7F,

    /// <summary>
    /// KVM_X86_VALID_QUIRKS of 6.15: bits 0–8 (0x1FF). IGNORE_GUEST_PAT (bit 9) came with <c>supported_quirks</c> in
    /// 6.16, VMCS12_ALLOW_FREEZE_IN_SMM (bit 10) later still (commit e2ffe85b6d2b, backported to stable kernels in
    /// 2026). The profile's 6.16 and 6.17 are not told apart here.
    /// </summary>
    Supported6_15 = 0x1FF,

    /// <summary>
    /// The 6.18.44 quirks every host gets (0x5FF, what KVM_CAP_DISABLE_QUIRKS2 reports on this project's PVM machines):
    /// bits 0–8 and VMCS12_ALLOW_FREEZE_IN_SMM (bit 10, a 2026 stable backport), without IGNORE_GUEST_PAT.
    /// </summary>
    Supported6_18 = 0x5FF,

    /// <summary>
    /// Not a KVM bit: as <see cref="Vm"/>'s <c>SupportedQuirks</c> constructor argument (its default), "what the
    /// profile's KVM offers on this host" (<see cref="KernelProfiles.SupportedQuirks"/>). The VM stores the resolved mask.
    /// </summary>
    ProfileDefault = 1ul << 63,
}
