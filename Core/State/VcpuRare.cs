namespace CpuidFunctional.Core.State;

/// <summary>
/// The rarely written registers of a <see cref="Vcpu"/> (<see cref="Vcpu.Rare"/>): kept off the hot object so a nested
/// round trip copies less. Compared by value.
/// </summary>
/// <param name="MiscEnable">IA32_MISC_ENABLE (0x1A0).</param>
/// <param name="MiscFeaturesEnables">MSR_MISC_FEATURES_ENABLES (0x140): bit 0 is CPUID faulting.</param>
/// <param name="TsxCtrl">IA32_TSX_CTRL (0x122): bit 1 hides RTM/HLE in CPUID answers.</param>
/// <param name="InSmm">In system-management mode.</param>
/// <param name="SmramCr4">CR4 saved in SMRAM at SMM entry, restored by RSM.</param>
/// <param name="SmramCpl">CPL saved at SMM entry, restored by RSM.</param>
/// <param name="Guest">What KVM_SET_CPUID2 derived from the table.</param>
public sealed record VcpuRare(
    ulong MiscEnable,
    ulong MiscFeaturesEnables,
    ulong TsxCtrl,
    bool InSmm,
    ulong SmramCr4,
    byte SmramCpl,
    GuestCaps Guest
)
{
    /// <summary>The RESET values, with no table installed.</summary>
    public static VcpuRare AtReset { get; } = new(Msr.MiscEnableDefault, 0, 0, false, 0, 0, GuestCaps.None);

    /// <summary>
    /// CR0 as KVM_SET_SREGS, RESET, INIT, SMM entry and RSM write it. It feeds no CPUID output, so the nested loads,
    /// which the events do not carry it for, leave it alone here.
    /// </summary>
    public ulong Cr0 { get; init; } = State.Cr0.AtReset;

    /// <summary>IA32_APIC_BASE (0x1B), written through <c>kvm_apic_set_base</c>.</summary>
    public ulong ApicBase { get; init; } = Msr.ApicBaseDefault;

    /// <summary>
    /// IA32_XSS (0xDA0). Guests write it rarely (Linux once at boot; a KVM-like L1 only when its own value differs
    /// from L2's), so a write copies this record as well as the <see cref="Vcpu"/>.
    /// </summary>
    public ulong Xss { get; init; }

    /// <summary>IA32_EFER as KVM_SET_SREGS, RESET, INIT, SMM entry and RSM write it (0 at RESET); like <see cref="Cr0"/>, no CPUID input.</summary>
    public ulong Efer { get; init; }

    /// <summary>An SMI arrived in SMM (<c>smi_pending</c>): taken when RSM leaves SMM.</summary>
    public bool SmiPending { get; init; }

    /// <summary>An INIT arrived in SMM, where it is blocked (<c>kvm_vcpu_latch_init</c>): taken when RSM leaves SMM.</summary>
    public bool InitPending { get; init; }

    /// <summary>CR0 saved in SMRAM at SMM entry, restored by RSM.</summary>
    public ulong SmramCr0 { get; init; }

    /// <summary>IA32_EFER saved in SMRAM at SMM entry, restored by RSM.</summary>
    public ulong SmramEfer { get; init; }

    /// <summary>
    /// MSR_PLATFORM_INFO (0xCE): bit 31 says CPUID faulting is supported, and MISC_FEATURES_ENABLES may set it only
    /// then. Set when the vCPU is created (<see cref="Model.Vm.PlatformInfoAtCreation"/>), written by the host only.
    /// </summary>
    public ulong PlatformInfo { get; init; } = Msr.PlatformInfoCpuidFault;

    /// <summary>
    /// Whether the vCPU's IA32_ARCH_CAPABILITIES advertises TSX_CTRL_MSR, which a guest access of IA32_TSX_CTRL needs
    /// (<c>vmx_get_msr</c>, <c>vmx_set_msr</c>). Set when the vCPU is created (<see cref="Model.Vm.TsxCtrlInArchCapabilitiesAtCreation"/>).
    /// </summary>
    public bool ArchCapabilitiesTsxCtrl { get; init; }
}
