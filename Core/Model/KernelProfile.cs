namespace CpuidFunctional.Core.Model;

/// <summary>Which kernel's rules for IA32_XSS the model follows (spec §1 row 6, Modelling note 7).</summary>
public enum KernelProfile
{
    /// <summary>
    /// 6.1 (eager era, e.g. Debian 12's kernel): every trigger runs <c>kvm_update_cpuid_runtime</c>; the rules
    /// that differ from later profiles are listed in docs/semantics.md ("Linux 6.1").
    /// </summary>
    Linux6_1 = 601,

    /// <summary>
    /// 6.15–6.17: CPUID.0xD.1:EBX from XCR0 only; every accepted IA32_XSS write sets the marker, changed or not.
    /// </summary>
    Linux6_15 = 615,

    /// <summary>
    /// 6.18 (CET series): CPUID.0xD.1:EBX from XCR0 | IA32_XSS; only IA32_XSS writes that change the value set it.
    /// </summary>
    Linux6_18 = 618,
}
