namespace CpuidFunctional.Core.Cpuid;

/// <summary>The vendor signatures of CPUID.0 (EBX, EDX, ECX spell the string).</summary>
public static class Vendor
{
    /// <summary>"GenuineIntel".</summary>
    public static readonly (uint Ebx, uint Ecx, uint Edx) Intel = (0x756E6547, 0x6C65746E, 0x49656E69);

    /// <summary>"AuthenticAMD".</summary>
    public static readonly (uint Ebx, uint Ecx, uint Edx) Amd = (0x68747541, 0x444D4163, 0x69746E65);

    /// <summary>"AMDisbetter!", the early AMD engineering-sample string KVM also treats as AMD.</summary>
    public static readonly (uint Ebx, uint Ecx, uint Edx) AmdLegacy = (0x69444D41, 0x21726574, 0x74656273);

    /// <summary>"HygonGenuine".</summary>
    public static readonly (uint Ebx, uint Ecx, uint Edx) Hygon = (0x6F677948, 0x656E6975, 0x6E65476E);

    /// <summary>Whether a leaf-0 entry names AMD or Hygon (<c>is_guest_vendor_amd</c>, <c>is_guest_vendor_hygon</c>).</summary>
    public static bool IsAmdOrHygon(CpuidEntry leaf0)
    {
        var sig = (leaf0.Ebx, leaf0.Ecx, leaf0.Edx);
        return sig == Amd || sig == AmdLegacy || sig == Hygon;
    }

    /// <summary>The 12-character vendor string of a leaf-0 entry.</summary>
    public static string Name(CpuidEntry leaf0)
    {
        Span<byte> bytes = stackalloc byte[12];
        BitConverter.TryWriteBytes(bytes[..4], leaf0.Ebx);
        BitConverter.TryWriteBytes(bytes[4..8], leaf0.Edx);
        BitConverter.TryWriteBytes(bytes[8..], leaf0.Ecx);
        return System.Text.Encoding.ASCII.GetString(bytes);
    }
}
