using static CpuidFunctional.Properties.Host.HostTestData;

namespace CpuidFunctional.Properties.Host;

/// <summary>The worked Intel values of spec §2, on the spec's own component table and on the real Intel presets.</summary>
public class SpecWorkedXsaveValueTests
{
    /// <summary>Spec §2's Intel component table (index, size, standard offset, ECX flags).</summary>
    internal static readonly XsaveLayout SpecIntelLayout = XsaveLayout.Of(
    [
        new XsaveComponent(2, 0x100, 0x240, 0), // AVX
        new XsaveComponent(3, 0x40, 0x3C0, 0), // MPX BNDREGS
        new XsaveComponent(4, 0x40, 0x400, 0), // MPX BNDCSR
        new XsaveComponent(5, 0x40, 0x440, 0), // AVX-512 opmask
        new XsaveComponent(6, 0x200, 0x480, 0), // ZMM_Hi256
        new XsaveComponent(7, 0x400, 0x680, 0), // Hi16_ZMM
        new XsaveComponent(8, 0x80, 0, 1), // Intel PT (XSS)
        new XsaveComponent(9, 8, 0xA80, 0), // PKRU
        new XsaveComponent(10, 8, 0, 1), // PASID (XSS)
        new XsaveComponent(11, 0x10, 0, 1), // CET_U (XSS)
        new XsaveComponent(12, 0x18, 0, 1), // CET_S (XSS)
        new XsaveComponent(14, 0x30, 0, 1), // UINTR (XSS)
        new XsaveComponent(15, 0x328, 0, 1), // Arch LBR (XSS)
        new XsaveComponent(17, 0x40, 0xAC0, 2), // AMX XTILECFG, 64-byte aligned
        new XsaveComponent(18, 0x2000, 0xB00, 6), // AMX XTILEDATA, aligned, XFD
    ]);

    // XCR0, XSS, standard size of XCR0 (0 where the spec gives none), compacted size of XCR0 | XSS.
    public static TheoryData<ulong, ulong, uint, uint> WorkedValues => new()
    {
        { 0x3, 0, 576, 576 },
        { 0x7, 0, 832, 832 },
        { 0x1F, 0, 1088, 960 },
        { 0xE7, 0, 2688, 2432 },
        { 0x2E7, 0, 2696, 2440 },
        { 0x602E7, 0, 11008, 10752 },
        { 0x2E7, 0x1800, 0, 2480 },
    };

    private const ulong Mpx = 0x18;

    [Theory]
    [MemberData(nameof(WorkedValues))]
    public void Spec_component_table_gives_the_worked_values(ulong xcr0, ulong xss, uint standard, uint compacted)
    {
        if (standard != 0)
        {
            Assert.Equal(Hex(standard), Hex(SpecIntelLayout.RequiredSize(xcr0, compacted: false)));
        }
        Assert.Equal(Hex(compacted), Hex(SpecIntelLayout.RequiredSize(xcr0 | xss, compacted: true)));
    }

    [Theory]
    [MemberData(nameof(WorkedValues))]
    public void Intel_preset_with_the_requested_components_gives_the_worked_values(ulong xcr0, ulong xss, uint standard, uint compacted)
    {
        // Sapphire Rapids has every component of the table except MPX; the MPX row runs on Skylake-SP.
        var host = ((xcr0 | xss) & Mpx) != 0 ? HostPresets.SkylakeSp : HostPresets.SapphireRapids;
        var requested = (xcr0 | xss) & Xcr0.MaskExtend;
        Assert.Equal(Hex(requested), Hex(requested & (host.SupportedXcr0 | host.SupportedXss)));

        if (standard != 0)
        {
            Assert.Equal(Hex(standard), Hex(host.Xsave.RequiredSize(xcr0, compacted: false)));
        }
        Assert.Equal(Hex(compacted), Hex(host.Xsave.RequiredSize(xcr0 | xss, compacted: true)));
    }

    [Fact]
    public void AMX_row_needs_the_64_byte_alignment_rule_2440_rounds_up_to_2496()
    {
        var host = HostPresets.SapphireRapids;

        Assert.Equal(10752u, host.Xsave.RequiredSize(0x602E7, compacted: true));
        Assert.Equal(2440u + 64 + 8192, host.Xsave.RequiredSize(0x602E7, compacted: true, honourAlignment: false));
    }

    [Fact]
    public void Every_component_of_the_Intel_presets_matches_the_spec_table()
    {
        foreach (var host in new[] { HostPresets.SkylakeSp, HostPresets.IcelakeSp, HostPresets.SapphireRapids })
        {
            Assert.All(host.Xsave.Components, c => Assert.Equal(SpecIntelLayout[c.Index], c));
        }
        Assert.Equal(
            SpecIntelLayout.Components.Select(c => c.Index).Except([3, 4]),
            HostPresets.SapphireRapids.Xsave.Components.Select(c => c.Index)
        );
    }
}
