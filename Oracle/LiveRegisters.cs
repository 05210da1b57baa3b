using System.Globalization;

namespace CpuidFunctional.Oracle;

/// <summary>The dynamic-CPUID inputs of a live vCPU as the kernel reports them (KVM_GET_SREGS, _XCRS, _MSRS).</summary>
/// <param name="Cr4">CR4.</param>
/// <param name="Xcr0">XCR0.</param>
/// <param name="ApicBase">IA32_APIC_BASE.</param>
/// <param name="MiscEnable">IA32_MISC_ENABLE.</param>
/// <param name="MiscFeaturesEnables">MSR_MISC_FEATURES_ENABLES.</param>
public readonly record struct LiveRegisters(ulong Cr4, ulong Xcr0, ulong ApicBase, ulong MiscEnable, ulong MiscFeaturesEnables)
{
    /// <inheritdoc/>
    public override string ToString() =>
        string.Create(
            CultureInfo.InvariantCulture,
            $"CR4=0x{Cr4:x} XCR0=0x{Xcr0:x} APIC_BASE=0x{ApicBase:x} MISC_ENABLE=0x{MiscEnable:x} MISC_FEATURES_ENABLES=0x{MiscFeaturesEnables:x}"
        );
}
