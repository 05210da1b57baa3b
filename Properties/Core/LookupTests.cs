namespace CpuidFunctional.Properties.Core;

/// <summary>kvm_cpuid's lookup and answer rules (spec §6), on hand-made tables.</summary>
public class LookupTests
{
    private static CpuidEntry Leaf0((uint Ebx, uint Ecx, uint Edx) vendor, uint maxBasic) =>
        CpuidEntry.Plain(0, maxBasic, vendor.Ebx, vendor.Ecx, vendor.Edx);

    private static readonly CpuidTable Intel = CpuidTable.Of(
        Leaf0(Vendor.Intel, 0xD),
        CpuidEntry.Plain(1, 0x11, 0x12, 0x13, 0x14),
        CpuidEntry.Indexed(0xB, 1, 0, 0, 0x201, 0x2A),
        CpuidEntry.Indexed(0xD, 0, 0xD0, 0xD1, 0xD2, 0xD3),
        CpuidEntry.Indexed(0xD, 1, 0xE0, 0xE1, 0xE2, 0xE3),
        CpuidEntry.Plain(0x4000_0000, 0x4000_0001, 0x4B4D564B, 0x564B4D56, 0x4D),
        CpuidEntry.Plain(0x8000_0000, 0x8000_0008, 0, 0, 0)
    );

    [Fact]
    public void An_exact_match_is_answered_and_flagged_exact()
    {
        Assert.Equal(new CpuidAnswer(0xE0, 0xE1, 0xE2, 0xE3, true), CpuidLookup.Answer(Intel, 0xD, 1, 0));
    }

    [Fact]
    public void A_significant_index_must_match_exactly()
    {
        var a = CpuidLookup.Answer(Intel, 0xD, 2, 0);
        Assert.False(a.Exact);
        Assert.Equal(new CpuidAnswer(0, 0, 0, 0, false), a); // in range of the basic class: zeros
    }

    [Theory]
    [InlineData(0xEu, 1u)]
    [InlineData(0x8000_00FFu, 0u)]
    [InlineData(0x4000_0100u, 1u)]
    [InlineData(0x5000_0000u, 0u)]
    [InlineData(0xC000_0000u, 1u)]
    [InlineData(0xFFFF_FFFFu, 0u)]
    public void Intel_out_of_range_leaves_redirect_to_the_max_basic_leaf_keeping_the_subleaf(uint leaf, uint subleaf)
    {
        var expected = Intel.Find(0xD, subleaf)!.Value;
        Assert.Equal(new CpuidAnswer(expected.Eax, expected.Ebx, expected.Ecx, expected.Edx, false), CpuidLookup.Answer(Intel, leaf, subleaf, 0));
    }

    [Fact]
    public void A_missing_leaf_within_its_class_limit_reads_zero()
    {
        Assert.Equal(new CpuidAnswer(0, 0, 0, 0, false), CpuidLookup.Answer(Intel, 0x8000_0005, 0, 0));
        Assert.Equal(new CpuidAnswer(0, 0, 0, 0, false), CpuidLookup.Answer(Intel, 0x4000_0001, 0, 0));
    }

    [Theory]
    [InlineData("AMD")]
    [InlineData("AMDisbetter!")]
    [InlineData("Hygon")]
    public void AMD_and_Hygon_tables_read_zero_out_of_range(string vendor)
    {
        var signature = vendor switch { "AMD" => Vendor.Amd, "Hygon" => Vendor.Hygon, _ => Vendor.AmdLegacy };
        var table = CpuidTable.Of(Intel.Entries.Select(e => e.Function == 0 ? Leaf0(signature, 0xD) : e));
        Assert.Equal(new CpuidAnswer(0, 0, 0, 0, false), CpuidLookup.Answer(table, 0xE, 1, 0));
    }

    [Fact]
    public void Exact_only_lookups_are_never_redirected()
    {
        Assert.Equal(new CpuidAnswer(0, 0, 0, 0, false), CpuidLookup.Answer(Intel, 0xE, 1, 0, exactOnly: true));
    }

    [Fact]
    public void Leaf_0xB_without_an_entry_for_the_subleaf_reports_CL_and_the_x2APIC_ID()
    {
        Assert.Equal(new CpuidAnswer(0, 0, 0x05, 0x2A, false), CpuidLookup.Answer(Intel, 0xB, 0x105, 0));
    }

    [Fact]
    public void Hypervisor_ranges_are_classes_of_0x100_leaves()
    {
        // 0x4000_0100 has no class entry of its own, so it redirects, while 0x4000_0001 is within 0x4000_0000's limit.
        Assert.False(CpuidLookup.Answer(Intel, 0x4000_0100, 0, 0) == new CpuidAnswer(0, 0, 0, 0, false));
        Assert.Equal(new CpuidAnswer(0, 0, 0, 0, false), CpuidLookup.Answer(Intel, 0x4000_0001, 0, 0));
    }

    [Fact]
    public void Keyed_lookup_differs_from_KVM_on_unflagged_entries()
    {
        var table = CpuidTable.Of(Leaf0(Vendor.Intel, 0xD), CpuidEntry.Plain(0xD, 1, 2, 3, 4));
        Assert.Equal(new CpuidAnswer(1, 2, 3, 4, true), CpuidLookup.Answer(table, 0xD, 1, 0));
        Assert.NotEqual(new CpuidAnswer(1, 2, 3, 4, true), CpuidLookup.Answer(table, 0xD, 1, 0, rule: LookupRule.KeyedByLeafSubleaf));
    }
}
