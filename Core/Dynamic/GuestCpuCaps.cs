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
    /// Whether the guest has a feature. Static features come from the table (their bits are never rewritten, so a
    /// pending update cannot make them stale); MWAIT comes from the cached capability bits, as in KVM.
    /// </summary>
    public static bool Has(Vcpu vcpu, GuestFeature feature)
    {
        if (ReferenceEquals(feature, GuestFeature.Mwait))
        {
            return (vcpu.Caps & DynamicCaps.Mwait) != 0;
        }
        var table = vcpu.Cpuid;
        var position = feature.Leaf == 1 ? table.IndexOfFunction(1) : table.IndexOf(feature.Leaf, feature.Subleaf);
        return position >= 0 && table[position].Has(feature.Register, feature.Bit);
    }

    /// <summary>The guest's supported XCR0 (<c>cpuid_get_supported_xcr0</c>): CPUID.0xD.0 EDX:EAX limited to the host's.</summary>
    public static ulong SupportedXcr0(Vcpu vcpu, ulong hostSupportedXcr0) =>
        vcpu.Cpuid.Find(0xD, 0) is { } d0 ? (d0.Eax | ((ulong)d0.Edx << 32)) & hostSupportedXcr0 : 0;

    /// <summary>The guest's supported IA32_XSS (<c>guest_supported_xss</c>): CPUID.0xD.1 EDX:ECX limited to the host's.</summary>
    public static ulong SupportedXss(Vcpu vcpu, ulong hostSupportedXss) =>
        vcpu.Cpuid.Find(0xD, 1) is { } d1 ? (d1.Ecx | ((ulong)d1.Edx << 32)) & hostSupportedXss : 0;

    /// <summary>
    /// The guest's physical-address width (<c>cpuid_query_maxphyaddr</c>): CPUID.0x80000008:EAX[7:0] when the
    /// extended range reaches that leaf, else 36.
    /// </summary>
    public static int MaxPhysAddr(Vcpu vcpu)
    {
        var table = vcpu.Cpuid;
        var ext = table.IndexOfFunction(0x8000_0000);
        if (ext < 0 || table[ext].Eax < 0x8000_0008)
        {
            return 36;
        }
        var leaf = table.IndexOfFunction(0x8000_0008);
        return leaf < 0 ? 36 : (int)(table[leaf].Eax & 0xFF);
    }
}
