namespace CpuidFunctional.Core.Checking.Yardstick;

/// <summary>The event kinds of the shared yardstick abstraction (shared/modelcheck/cpuid.pml), in its order.</summary>
public enum YardstickEventKind : byte
{
    /// <summary>Toggle CR4.OSXSAVE (any level; a trigger).</summary>
    ToggleCr4OsXsave,

    /// <summary>Toggle CR4.PKE (any level; a trigger).</summary>
    ToggleCr4Pke,

    /// <summary>XSETBV to one of the 16 valid masks (L1; a trigger iff a bit ≥ 2 changes).</summary>
    Xsetbv,

    /// <summary>WRMSR IA32_XSS := 0 (L1; always a trigger in 6.15).</summary>
    WrmsrXss0,

    /// <summary>WRMSR IA32_XSS := 0x100 (L1; always a trigger in 6.15).</summary>
    WrmsrXss100,

    /// <summary>Toggle IA32_APIC_BASE.EN (L1; a trigger).</summary>
    ToggleApicEnable,

    /// <summary>Toggle IA32_MISC_ENABLE.MWAIT (L1; a trigger iff the quirk is disabled).</summary>
    ToggleMiscEnableMwait,

    /// <summary>KVM_CAP_DISABLE_QUIRKS2(MISC_ENABLE_NO_MWAIT), one way (L1; with the guard only while no update is pending).</summary>
    DisableMwaitQuirk,

    /// <summary>VMWRITE vmcs12 GUEST_CR4.OSXSAVE (L1).</summary>
    VmwriteGuestOsXsave,

    /// <summary>VMWRITE vmcs12 GUEST_CR4.PKE (L1).</summary>
    VmwriteGuestPke,

    /// <summary>VMWRITE vmcs12 HOST_CR4.OSXSAVE (L1).</summary>
    VmwriteHostOsXsave,

    /// <summary>VMWRITE vmcs12 HOST_CR4.PKE (L1).</summary>
    VmwriteHostPke,

    /// <summary>Nested VM-entry: CR4 := vmcs12 guest bits (a trigger iff they differ).</summary>
    VmEntry,

    /// <summary>Nested VM-exit: CR4 := vmcs12 host bits (a trigger iff they differ).</summary>
    VmExit,

    /// <summary>CPUID executed by L1 (an observation).</summary>
    Cpuid,

    /// <summary>KVM_GET_CPUID2 at any level (an observation).</summary>
    GetCpuid2,
}
