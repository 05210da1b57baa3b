using CpuidFunctional.Core.Cpuid;
using CpuidFunctional.Core.Host;

namespace CpuidFunctional.Properties.Checking;

/// <summary>
/// The four dump hosts reduced to the leaves the dynamic bits and the checks read (0, 1, 7.0, 0xD.*, 0x80000000,
/// 0x80000001, 0x80000008), copied from shared/data/cpuid-dumps; small tables keep the exhaustive checks fast.
/// </summary>
internal static class TestHosts
{
    public static HostCpu SkylakeSp { get; } = HostCpu.FromCpuid(
        "skylake-sp",
        CpuidTable.Of(
            CpuidEntry.Plain(0x0, 0x00000016, 0x756E6547, 0x6C65746E, 0x49656E69),
            CpuidEntry.Plain(0x1, 0x00050654, 0x00400800, 0x7FFEFBFF, 0xBFEBFBFF),
            CpuidEntry.Indexed(0x7, 0, 0x00000000, 0xD39FFFFB, 0x00000008, 0x9C002400),
            CpuidEntry.Indexed(0xD, 0, 0x000002FF, 0x00000A80, 0x00000A88, 0x00000000),
            CpuidEntry.Indexed(0xD, 1, 0x0000000F, 0x00000A80, 0x00000100, 0x00000000),
            CpuidEntry.Indexed(0xD, 2, 0x00000100, 0x00000240, 0x00000000, 0x00000000),
            CpuidEntry.Indexed(0xD, 3, 0x00000040, 0x000003C0, 0x00000000, 0x00000000),
            CpuidEntry.Indexed(0xD, 4, 0x00000040, 0x00000400, 0x00000000, 0x00000000),
            CpuidEntry.Indexed(0xD, 5, 0x00000040, 0x00000440, 0x00000000, 0x00000000),
            CpuidEntry.Indexed(0xD, 6, 0x00000200, 0x00000480, 0x00000000, 0x00000000),
            CpuidEntry.Indexed(0xD, 7, 0x00000400, 0x00000680, 0x00000000, 0x00000000),
            CpuidEntry.Indexed(0xD, 8, 0x00000080, 0x00000000, 0x00000001, 0x00000000),
            CpuidEntry.Indexed(0xD, 9, 0x00000008, 0x00000A80, 0x00000000, 0x00000000),
            CpuidEntry.Plain(0x80000000, 0x80000008, 0x00000000, 0x00000000, 0x00000000),
            CpuidEntry.Plain(0x80000001, 0x00000000, 0x00000000, 0x00000121, 0x2C100000),
            CpuidEntry.Plain(0x80000008, 0x0000302E, 0x00000000, 0x00000000, 0x00000000)
        )
    );

    public static HostCpu IcelakeSp { get; } = HostCpu.FromCpuid(
        "icelake-sp",
        CpuidTable.Of(
            CpuidEntry.Plain(0x0, 0x0000001B, 0x756E6547, 0x6C65746E, 0x49656E69),
            CpuidEntry.Plain(0x1, 0x000606A6, 0x00800800, 0x7FFEFBFF, 0xBFEBFBFF),
            CpuidEntry.Indexed(0x7, 0, 0x00000000, 0xF3BFBFFF, 0x40417F4E, 0xBC040412),
            CpuidEntry.Indexed(0xD, 0, 0x000002E7, 0x00000A80, 0x00000A88, 0x00000000),
            CpuidEntry.Indexed(0xD, 1, 0x0000000F, 0x00000A00, 0x00000100, 0x00000000),
            CpuidEntry.Indexed(0xD, 2, 0x00000100, 0x00000240, 0x00000000, 0x00000000),
            CpuidEntry.Indexed(0xD, 5, 0x00000040, 0x00000440, 0x00000000, 0x00000000),
            CpuidEntry.Indexed(0xD, 6, 0x00000200, 0x00000480, 0x00000000, 0x00000000),
            CpuidEntry.Indexed(0xD, 7, 0x00000400, 0x00000680, 0x00000000, 0x00000000),
            CpuidEntry.Indexed(0xD, 8, 0x00000080, 0x00000000, 0x00000001, 0x00000000),
            CpuidEntry.Indexed(0xD, 9, 0x00000008, 0x00000A80, 0x00000000, 0x00000000),
            CpuidEntry.Plain(0x80000000, 0x80000008, 0x00000000, 0x00000000, 0x00000000),
            CpuidEntry.Plain(0x80000001, 0x00000000, 0x00000000, 0x00000121, 0x2C100000),
            CpuidEntry.Plain(0x80000008, 0x0000392E, 0x00000200, 0x00000000, 0x00000000)
        )
    );

    public static HostCpu SapphireRapids { get; } = HostCpu.FromCpuid(
        "sapphire-rapids",
        CpuidTable.Of(
            CpuidEntry.Plain(0x0, 0x00000020, 0x756E6547, 0x6C65746E, 0x49656E69),
            CpuidEntry.Plain(0x1, 0x000806F8, 0x00800800, 0x7FFEFBFF, 0xBFEBFBFF),
            CpuidEntry.Indexed(0x7, 0, 0x00000002, 0xF3BFBFFB, 0xBB417FEE, 0xFFDD4430),
            CpuidEntry.Indexed(0xD, 0, 0x000602E7, 0x00002B00, 0x00002B00, 0x00000000),
            CpuidEntry.Indexed(0xD, 1, 0x0000001F, 0x00002A80, 0x0000DD00, 0x00000000),
            CpuidEntry.Indexed(0xD, 2, 0x00000100, 0x00000240, 0x00000000, 0x00000000),
            CpuidEntry.Indexed(0xD, 5, 0x00000040, 0x00000440, 0x00000000, 0x00000000),
            CpuidEntry.Indexed(0xD, 6, 0x00000200, 0x00000480, 0x00000000, 0x00000000),
            CpuidEntry.Indexed(0xD, 7, 0x00000400, 0x00000680, 0x00000000, 0x00000000),
            CpuidEntry.Indexed(0xD, 8, 0x00000080, 0x00000000, 0x00000001, 0x00000000),
            CpuidEntry.Indexed(0xD, 9, 0x00000008, 0x00000A80, 0x00000000, 0x00000000),
            CpuidEntry.Indexed(0xD, 10, 0x00000008, 0x00000000, 0x00000001, 0x00000000),
            CpuidEntry.Indexed(0xD, 11, 0x00000010, 0x00000000, 0x00000001, 0x00000000),
            CpuidEntry.Indexed(0xD, 12, 0x00000018, 0x00000000, 0x00000001, 0x00000000),
            CpuidEntry.Indexed(0xD, 14, 0x00000030, 0x00000000, 0x00000001, 0x00000000),
            CpuidEntry.Indexed(0xD, 15, 0x00000328, 0x00000000, 0x00000001, 0x00000000),
            CpuidEntry.Indexed(0xD, 17, 0x00000040, 0x00000AC0, 0x00000002, 0x00000000),
            CpuidEntry.Indexed(0xD, 18, 0x00002000, 0x00000B00, 0x00000006, 0x00000000),
            CpuidEntry.Plain(0x80000000, 0x80000008, 0x00000000, 0x00000000, 0x00000000),
            CpuidEntry.Plain(0x80000001, 0x00000000, 0x00000000, 0x00000121, 0x2C100000),
            CpuidEntry.Plain(0x80000008, 0x00003934, 0x00000200, 0x00000000, 0x00000000)
        )
    );

    public static HostCpu Genoa { get; } = HostCpu.FromCpuid(
        "genoa",
        CpuidTable.Of(
            CpuidEntry.Plain(0x0, 0x00000010, 0x68747541, 0x444D4163, 0x69746E65),
            CpuidEntry.Plain(0x1, 0x00A10F11, 0x00C00800, 0x7EFA320B, 0x178BFBFF),
            CpuidEntry.Indexed(0x7, 0, 0x00000001, 0xF1BF97A9, 0x00415FCE, 0x10000010),
            CpuidEntry.Indexed(0xD, 0, 0x000002E7, 0x00000980, 0x00000988, 0x00000000),
            CpuidEntry.Indexed(0xD, 1, 0x0000000F, 0x00000990, 0x00001800, 0x00000000),
            CpuidEntry.Indexed(0xD, 2, 0x00000100, 0x00000240, 0x00000000, 0x00000000),
            CpuidEntry.Indexed(0xD, 5, 0x00000040, 0x00000340, 0x00000000, 0x00000000),
            CpuidEntry.Indexed(0xD, 6, 0x00000200, 0x00000380, 0x00000000, 0x00000000),
            CpuidEntry.Indexed(0xD, 7, 0x00000400, 0x00000580, 0x00000000, 0x00000000),
            CpuidEntry.Indexed(0xD, 9, 0x00000008, 0x00000980, 0x00000000, 0x00000000),
            CpuidEntry.Indexed(0xD, 11, 0x00000010, 0x00000000, 0x00000001, 0x00000000),
            CpuidEntry.Indexed(0xD, 12, 0x00000018, 0x00000000, 0x00000001, 0x00000000),
            CpuidEntry.Plain(0x80000000, 0x80000028, 0x68747541, 0x444D4163, 0x69746E65),
            CpuidEntry.Plain(0x80000001, 0x00A10F11, 0x40000000, 0x75C237FF, 0x2FD3FBFF),
            CpuidEntry.Plain(0x80000008, 0x00003934, 0x79BEF25F, 0x000080BF, 0x00010007)
        )
    );

    public static IReadOnlyList<HostCpu> All { get; } = [SkylakeSp, IcelakeSp, SapphireRapids, Genoa];
}
