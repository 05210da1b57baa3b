using CsCheck;

namespace CpuidFunctional.Properties.Generators;

/// <summary>KVM_SET_XCRS lists for the CsCheck generators (the mutable baseline's and the live differential's).</summary>
public static class XcrsGen
{
    /// <summary>
    /// A KVM_SET_XCRS of 0 to KVM_MAX_XCRS + 1 entries: XCR0 entries of two values from <paramref name="xcr0"/>
    /// (only the first counts) with every third entry for another XCR (ignored), and now and then a flag (EINVAL).
    /// </summary>
    public static Gen<VcpuEvent.SetXcrs> List(Gen<ulong> xcr0) =>
        Gen.Select(xcr0, xcr0, Gen.OneOf(1u, 2u, 0x8000_0000u), Gen.Int[0, Xcr0.KvmMaxXcrs + 1], Gen.OneOf(0u, 0u, 0u, 1u))
            .Select((a, b, other, count, flags) => new VcpuEvent.SetXcrs(
                new ValueArray<XcrEntry>([.. Enumerable.Range(0, count).Select(n => n % 3 == 2 ? new XcrEntry(other, a) : new XcrEntry(0, n % 2 == 0 ? a : b))])
            ) { Flags = flags });
}
