using static CpuidFunctional.Properties.Host.HostTestData;

namespace CpuidFunctional.Properties.Host;

/// <summary>The built-in presets: names, order, lookup and what each host is.</summary>
public class HostPresetsTests
{
    [Fact]
    public void Presets_come_in_a_fixed_order_under_their_short_names()
    {
        string[] expected = ["skylake-sp", "icelake-sp", "sapphire-rapids", "genoa"];

        Assert.Equal(expected, HostPresets.Names);
        Assert.Equal(expected, HostPresets.All.Keys);
        Assert.Equal(expected, HostPresets.Presets.Select(p => p.Name));
        Assert.Equal(expected, HostPresets.All.Values.Select(h => h.Name));
        Assert.Equal(
            [HostPresets.SkylakeSp, HostPresets.IcelakeSp, HostPresets.SapphireRapids, HostPresets.Genoa],
            HostPresets.All.Values
        );
    }

    [Theory]
    [InlineData("skylake-sp", "GenuineIntel", 0x2FFul)]
    [InlineData("icelake-sp", "GenuineIntel", 0x2E7ul)]
    [InlineData("sapphire-rapids", "GenuineIntel", 0x602E7ul)]
    [InlineData("genoa", "AuthenticAMD", 0x2E7ul)]
    public void ByName_finds_each_preset_with_its_vendor_and_supported_XCR0(string name, string vendor, ulong supportedXcr0)
    {
        var host = HostOf(HostPresets.ByName(name));

        Assert.Same(HostPresets.All[name], host);
        Assert.Equal((vendor, Hex(supportedXcr0)), (host.VendorName, Hex(host.SupportedXcr0)));
    }

    [Fact]
    public void ByName_ignores_case()
    {
        Assert.Same(HostPresets.Genoa, HostOf(HostPresets.ByName("Genoa")));
    }

    [Fact]
    public void Unknown_preset_name_is_an_error_listing_the_valid_names()
    {
        var problem = Problem(HostPresets.ByName("haswell"));

        Assert.Equal(
            new ParseError("host preset", 0, "unknown host preset 'haswell': expected one of skylake-sp, icelake-sp, sapphire-rapids, genoa"),
            problem
        );
    }

    [Fact]
    public void Genoa_has_the_AMD_layout_without_the_MPX_gap()
    {
        var genoa = HostPresets.Genoa.Xsave;

        Assert.Equal((0x340u, 0x340u, 0x980u), (genoa[2].Offset + genoa[2].Size, genoa[5].Offset, genoa[9].Offset));
        Assert.False(genoa[3].IsPresent || genoa[4].IsPresent);
        Assert.NotEqual(HostPresets.IcelakeSp.Xsave, genoa);
    }
}
