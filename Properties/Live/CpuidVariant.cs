namespace CpuidFunctional.Properties.Live;

/// <summary>Which table a generated KVM_SET_CPUID2 passes, derived from the live start table at run time.</summary>
public enum CpuidVariant
{
    /// <summary>The start table unchanged.</summary>
    Same,

    /// <summary>CPUID.1:ECX.OSXSAVE flipped (a dynamic bit).</summary>
    FlipOsxsave,

    /// <summary>CPUID.1:EDX.APIC flipped (a dynamic bit).</summary>
    FlipApic,

    /// <summary>CPUID.0xD.0:EBX set to a wrong size (a dynamic field).</summary>
    WrongXsaveSize,

    /// <summary>CPUID.7.0:ECX.OSPKE flipped (a dynamic bit).</summary>
    FlipOspke,

    /// <summary>CPUID.0xD.1:EBX set to a wrong compacted size (a dynamic field).</summary>
    WrongCompactedSize,

    /// <summary>CPUID.1:ECX.MWAIT flipped (dynamic only with the quirk disabled).</summary>
    FlipMwait,

    /// <summary>CPUID.7.0:EBX bit 0 flipped (static). Only after KVM_RUN: before it PVM rewrites leaf 7 at KVM_SET_CPUID2.</summary>
    StaticChange,

    /// <summary>
    /// CPUID.0xD.0:EAX offering AMX tile data, which the oracle's process never asked to give a guest: EPERM before
    /// the first run (<c>kvm_check_cpuid</c>), a static change after it.
    /// </summary>
    OffersTileData,

    /// <summary>
    /// KVM_FEATURE_PV_UNHALT set in KVM's features leaf, which KVM clears in a VM whose HLT exits are disabled (at
    /// KVM_SET_CPUID2 from 6.14, at the next runtime update on 6.1).
    /// </summary>
    SetsPvUnhalt,

    /// <summary>As <see cref="SetsPvUnhalt"/>, with KVM's signature clobbered, so that 6.14 on finds no KVM leaves (6.1 still uses the base cached from the table before).</summary>
    UnsignedSetsPvUnhalt,
}
