using CpuidFunctional.Core.Cpuid;
using CpuidFunctional.Core.State;

namespace CpuidFunctional.Core.Dynamic;

/// <summary>
/// <c>guest_cpu_cap_has()</c>: the only way the model's rules consult guest features. It accepts a
/// <see cref="GuestFeature"/>, a closed set without APIC, OSXSAVE and OSPKE, so no rule can read a dynamic bit
/// that may be stale (spec §5).
/// </summary>
public static class GuestCpuCaps
{
    /// <summary>
    /// Whether the guest has a feature: static features from the capability bits KVM_SET_CPUID2 stored
    /// (<see cref="Vcpu.Guest"/>), MWAIT from the cached dynamic capability bits, as in KVM.
    /// </summary>
    public static bool Has(Vcpu vcpu, GuestFeature feature) =>
        ReferenceEquals(feature, GuestFeature.Mwait)
            ? (vcpu.Caps & DynamicCaps.Mwait) != 0
            : (vcpu.Guest.Features & feature.Mask) != 0;

    /// <summary>The guest's supported XCR0 (<c>guest_supported_xcr0</c>).</summary>
    public static ulong SupportedXcr0(Vcpu vcpu) => vcpu.Guest.SupportedXcr0;

    /// <summary>The guest's supported IA32_XSS (<c>guest_supported_xss</c>).</summary>
    public static ulong SupportedXss(Vcpu vcpu) => vcpu.Guest.SupportedXss;

    /// <summary>The guest's physical-address width (<c>cpuid_query_maxphyaddr</c>).</summary>
    public static int MaxPhysAddr(Vcpu vcpu) => vcpu.Guest.MaxPhysAddr;

    /// <summary>
    /// <c>kvm_vcpu_after_set_cpuid</c>'s derivations from a table: the static feature bits (MWAIT is not among
    /// them: it lives in the dynamic capability bits), the supported XCR0 and XSS limited to KVM's (<paramref name="hostSupportedXcr0"/>: <c>kvm_caps.supported_xcr0</c>, <see cref="Model.SupportedCpuid.SupportedXcr0"/>), the
    /// physical-address width and the CR4 bits reserved for lack of a feature (<c>__cr4_reserved_bits</c>, KVM's
    /// <c>cr4_guest_rsvd_bits</c>), plus the ones KVM reserves whatever the guest (<paramref name="alwaysReservedCr4"/>:
    /// <c>cr4_reserved_bits</c>, <see cref="Model.SupportedCpuid.Cr4ReservedBits"/>).
    /// </summary>
    public static GuestCaps Derive(
        CpuidTable table,
        ulong hostSupportedXcr0,
        ulong hostSupportedXss,
        ulong alwaysReservedCr4 = 0,
        Func<ulong, ulong>? cr4ReservedByFeatures = null
    )
    {
        var features = 0ul;
        foreach (var f in GuestFeature.All)
        {
            if (ReferenceEquals(f, GuestFeature.Mwait))
            {
                continue;
            }
            features |= f.In(table) ? f.Mask : 0;
        }
        var xcr0 = table.Find(0xD, 0) is { } d0 ? (d0.Eax | ((ulong)d0.Edx << 32)) & hostSupportedXcr0 : 0;
        var xss = table.Find(0xD, 1) is { } d1 ? (d1.Ecx | ((ulong)d1.Edx << 32)) & hostSupportedXss : 0;
        return new GuestCaps(features, xcr0, xss, QueryMaxPhysAddr(table), (cr4ReservedByFeatures ?? Cr4Reserved)(features) | alwaysReservedCr4);
    }

    /// <summary><c>cpuid_query_maxphyaddr</c>: CPUID.0x80000008:EAX[7:0] when the extended range reaches it, else 36.</summary>
    private static byte QueryMaxPhysAddr(CpuidTable table)
    {
        var ext = table.IndexOfFunction(0x8000_0000);
        if (ext < 0 || table[ext].Eax < 0x8000_0008)
        {
            return 36;
        }
        var leaf = table.IndexOfFunction(0x8000_0008);
        return leaf < 0 ? (byte)36 : (byte)(table[leaf].Eax & 0xFF);
    }

    /// <summary><c>__cr4_reserved_bits</c>: CR4 bits whose feature the guest lacks (from its static feature bits).</summary>
    public static ulong Cr4Reserved(ulong features)
    {
        bool Has(GuestFeature f) => (features & f.Mask) != 0;
        var reserved = Cr4.LamSup; // the model exposes no LAM
        reserved |= Has(GuestFeature.Xsave) ? 0 : Cr4.OsXsave;
        reserved |= Has(GuestFeature.Pku) ? 0 : Cr4.Pke;
        reserved |= Has(GuestFeature.Vmx) ? 0 : Cr4.Vmxe;
        reserved |= Has(GuestFeature.Smep) ? 0 : Cr4.Smep;
        reserved |= Has(GuestFeature.Smap) ? 0 : Cr4.Smap;
        reserved |= Has(GuestFeature.FsGsBase) ? 0 : Cr4.FsGsBase;
        reserved |= Has(GuestFeature.Pcid) ? 0 : Cr4.Pcide;
        reserved |= Has(GuestFeature.La57) ? 0 : Cr4.La57;
        reserved |= Has(GuestFeature.Umip) ? 0 : Cr4.Umip;
        reserved |= Has(GuestFeature.Shstk) || Has(GuestFeature.Ibt) ? 0 : Cr4.Cet;
        return reserved;
    }
}
