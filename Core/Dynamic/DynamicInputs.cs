using CpuidFunctional.Core.State;

namespace CpuidFunctional.Core.Dynamic;

/// <summary>
/// The vCPU registers the six dynamic outputs are computed from (spec §1), all that
/// <see cref="DynamicBits.Materialize(Model.Vm, DynamicInputs, Cpuid.CpuidTable, DynamicCaps, Model.KvmRules)"/> reads of
/// a vCPU: CR4 (OSXSAVE, OSPKE), XCR0 and IA32_XSS (the XSAVE sizes), IA32_APIC_BASE (APIC) and IA32_MISC_ENABLE (MWAIT).
/// </summary>
/// <param name="Cr4">CR4.</param>
/// <param name="Xcr0">XCR0.</param>
/// <param name="Xss">IA32_XSS (0xDA0).</param>
/// <param name="ApicBase">IA32_APIC_BASE (0x1B).</param>
/// <param name="MiscEnable">IA32_MISC_ENABLE (0x1A0).</param>
public readonly record struct DynamicInputs(ulong Cr4, ulong Xcr0, ulong Xss, ulong ApicBase, ulong MiscEnable)
{
    /// <summary>A vCPU's inputs as they are.</summary>
    public static DynamicInputs Of(Vcpu v) => new(v.Cr4, v.Xcr0, v.Xss, v.ApicBase, v.MiscEnable);

    /// <summary>Whether a CR4 bit is set.</summary>
    public bool Cr4Has(ulong bit) => (Cr4 & bit) != 0;
}
