namespace CpuidFunctional.Oracle;

/// <summary>What this kernel's KVM can exercise, probed before any event is generated.</summary>
/// <param name="KernelRelease"><c>uname -r</c>.</param>
/// <param name="Xcrs">KVM_CAP_XCRS.</param>
/// <param name="Smm">KVM_CAP_X86_SMM (SMI/RSM events).</param>
/// <param name="NestedState">KVM_CAP_NESTED_STATE (nested VMX/SVM).</param>
/// <param name="DisableQuirks2Mask">KVM_CAP_DISABLE_QUIRKS2: the quirks that may be disabled.</param>
/// <param name="XssSaved">IA32_XSS (0xDA0) is in KVM_GET_MSR_INDEX_LIST.</param>
/// <param name="Pku">KVM_GET_SUPPORTED_CPUID offers PKU (CR4.PKE, OSPKE).</param>
/// <param name="DisableExitsMask">KVM_CAP_X86_DISABLE_EXITS: the exits that may be disabled.</param>
/// <param name="Irqchip">KVM_CAP_IRQCHIP, and a scratch VM's KVM_CREATE_IRQCHIP succeeded: a VM may have an in-kernel APIC, through which the oracle delivers INIT.</param>
public sealed record LiveCapabilities(
    string KernelRelease,
    bool Xcrs,
    bool Smm,
    bool NestedState,
    ulong DisableQuirks2Mask,
    bool XssSaved,
    bool Pku,
    ulong DisableExitsMask,
    bool Irqchip
);
