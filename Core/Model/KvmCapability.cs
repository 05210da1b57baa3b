namespace CpuidFunctional.Core.Model;

/// <summary>
/// <c>KVM_CAP_*</c> numbers (<c>include/uapi/linux/kvm.h</c>) that the model answers (<see cref="CheckExtension"/>) or
/// the oracle probes before generating events.
/// </summary>
public enum KvmCapability : uint
{
    /// <summary>
    /// KVM_CAP_IRQCHIP: KVM_CREATE_IRQCHIP (an in-kernel PIC, IOAPIC and local APICs; 1 on every x86 kernel). Its ABI
    /// number is 0, so it is also <c>default(KvmCapability)</c>: nothing reads the default as "none".
    /// </summary>
    Irqchip = 0,

    /// <summary>KVM_CAP_XSAVE: KVM_GET/SET_XSAVE (1 on every x86 kernel).</summary>
    Xsave = 55,

    /// <summary>KVM_CAP_XCRS: KVM_GET/SET_XCRS (1 where the host has XSAVE).</summary>
    Xcrs = 56,

    /// <summary>KVM_CAP_X86_SMM: SMM can be entered (SMI, RSM).</summary>
    X86Smm = 117,

    /// <summary>KVM_CAP_X86_DISABLE_EXITS: returns the exits a VMM may disable (<c>kvm_get_allowed_disable_exits</c>).</summary>
    X86DisableExits = 143,

    /// <summary>KVM_CAP_NESTED_STATE: nested virtualization state (non-zero when nested VMX/SVM is usable).</summary>
    NestedState = 157,

    /// <summary>KVM_CAP_SREGS2.</summary>
    Sregs2 = 200,

    /// <summary>KVM_CAP_XSAVE2: the size in bytes of the buffer KVM_GET_XSAVE2 fills.</summary>
    Xsave2 = 208,

    /// <summary>KVM_CAP_DISABLE_QUIRKS2: returns the mask of quirks that may be disabled.</summary>
    DisableQuirks2 = 213,
}
