using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;

namespace CpuidFunctional.Core.Checking.Internal;

/// <summary>The search's one unsafe operation: a hint to the processor about memory it will read soon.</summary>
internal static class CacheHint
{
    /// <summary>
    /// Asks the processor to bring the cache line holding <paramref name="location"/> into every cache level without
    /// waiting for it (x86 PREFETCHT0), so that the miss overlaps other work. A prefetch never faults and changes
    /// nothing, so hinting an array element that another worker has meanwhile replaced costs only the hint. On other
    /// processors it does nothing.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe void Prefetch<T>(ref readonly T location)
    {
        if (Sse.IsSupported)
        {
            Sse.Prefetch0(Unsafe.AsPointer(ref Unsafe.AsRef(in location)));
        }
    }
}
