namespace CpuidFunctional.Oracle;

/// <summary>The <c>KVM_CAP_*</c> numbers the oracle probes before generating events.</summary>
public enum KvmCapability : uint
{
    /// <summary>KVM_CAP_XSAVE: KVM_GET/SET_XSAVE.</summary>
    Xsave = 0x37,

    /// <summary>KVM_CAP_XCRS: KVM_GET/SET_XCRS.</summary>
    Xcrs = 0x38,

    /// <summary>KVM_CAP_X86_DISABLE_EXITS: returns the exits a VMM may disable (<c>kvm_get_allowed_disable_exits</c>).</summary>
    X86DisableExits = 0x8F,

    /// <summary>KVM_CAP_X86_SMM: SMM can be entered (SMI, RSM).</summary>
    X86Smm = 0x75,

    /// <summary>KVM_CAP_NESTED_STATE: nested virtualization state (non-zero when nested VMX/SVM is usable).</summary>
    NestedState = 0x9D,

    /// <summary>KVM_CAP_SREGS2.</summary>
    Sregs2 = 0xC8,

    /// <summary>KVM_CAP_DISABLE_QUIRKS2: returns the mask of quirks that may be disabled.</summary>
    DisableQuirks2 = 0xD5,
}
