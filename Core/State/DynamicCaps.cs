namespace CpuidFunctional.Core.State;

/// <summary>
/// The dynamic features in the vCPU's cached capability bitmap (<c>vcpu->arch.cpu_caps</c>); rewritten together
/// with the table by <c>kvm_update_feature_runtime</c>, so just as lazy.
/// </summary>
[Flags]
public enum DynamicCaps : byte
{
    /// <summary>None.</summary>
    None = 0,

    /// <summary>X86_FEATURE_APIC.</summary>
    Apic = 1,

    /// <summary>X86_FEATURE_OSXSAVE.</summary>
    OsXsave = 2,

    /// <summary>X86_FEATURE_OSPKE.</summary>
    OsPke = 4,

    /// <summary>X86_FEATURE_MWAIT.</summary>
    Mwait = 8,
}
