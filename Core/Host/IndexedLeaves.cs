using CpuidFunctional.Core.Cpuid;

namespace CpuidFunctional.Core.Host;

/// <summary>
/// Which CPUID functions take a sub-leaf in ECX, so that a table entry for them must carry
/// <see cref="CpuidFlags.SignificantIndex"/>. The dump importers use this because neither dump format records
/// KVM's flags.
/// </summary>
public static class IndexedLeaves
{
    /// <summary>
    /// <c>cpuid_function_is_indexed</c>: 4, 7, 0xB, 0xD, 0xF, 0x10, 0x12, 0x14, 0x17, 0x18, 0x1D, 0x1E, 0x1F, 0x24
    /// and 0x8000001D. Other functions are flat even when a dump lists sub-leaves for them (AMD's 0x80000020 and
    /// 0x80000026, for example); KVM then answers every sub-leaf from the first such entry.
    /// </summary>
    /// <param name="function">The leaf (EAX input).</param>
    public static bool IsIndexed(uint function) =>
        function is 0x4 or 0x7 or 0xB or 0xD or 0xF or 0x10 or 0x12 or 0x14 or 0x17 or 0x18 or 0x1D or 0x1E or 0x1F or 0x24
            or 0x8000001D;

    /// <summary>The flags KVM gives an entry of this function (<c>do_host_cpuid</c>).</summary>
    /// <param name="function">The leaf (EAX input).</param>
    public static CpuidFlags FlagsFor(uint function) => IsIndexed(function) ? CpuidFlags.SignificantIndex : CpuidFlags.None;
}
