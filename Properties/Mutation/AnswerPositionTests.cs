namespace CpuidFunctional.Properties.Mutation;

/// <summary>
/// <c>kvm_cpuid</c> and <c>get_out_of_range_cpuid_entry</c> wherever the entries sit: the first entry of a table is an
/// entry like any other, the max basic leaf need not come first, and a table without leaf 0 redirects nothing.
/// </summary>
public class AnswerPositionTests
{
    private static readonly CpuidEntry Leaf0Intel = CpuidEntry.Plain(0, 0xD, Vendor.Intel.Ebx, Vendor.Intel.Ecx, Vendor.Intel.Edx);

    [Fact]
    public void The_first_entry_of_the_table_answers_its_leaf_exactly()
    {
        var table = CpuidTable.Of(Leaf0Intel, CpuidEntry.Plain(1, 0x50654, 0, 0, 0));

        Assert.Equal(new CpuidAnswer(0xD, Vendor.Intel.Ebx, Vendor.Intel.Ecx, Vendor.Intel.Edx, Exact: true), CpuidLookup.Answer(table, 0, 0, tsxCtrl: 0));
    }

    [Fact]
    public void Leaf_0xB_passes_the_subleaf_through_with_the_x2APIC_ID_of_its_subleaf_1_even_as_the_first_entry()
    {
        var table = CpuidTable.Of(CpuidEntry.Indexed(0xB, 1, 1, 2, 0x201, 7), Leaf0Intel);

        Assert.Equal(new CpuidAnswer(0, 0, 5, 7, Exact: false), CpuidLookup.Answer(table, 0xB, 5, tsxCtrl: 0));
    }

    [Fact]
    public void An_Intel_table_redirects_beyond_its_max_basic_leaf_wherever_leaf_0_sits()
    {
        var table = CpuidTable.Of(CpuidEntry.Indexed(7, 0, 0, 1, 2, 3), Leaf0Intel, CpuidEntry.Indexed(0xD, 1, 0x11, 0x22, 0x33, 0x44));

        Assert.Equal(new CpuidAnswer(0x11, 0x22, 0x33, 0x44, Exact: false), CpuidLookup.Answer(table, 0x14, 1, tsxCtrl: 0));
    }

    [Fact]
    public void A_table_without_leaf_0_answers_an_unlisted_leaf_with_zeros()
    {
        var table = CpuidTable.Of(CpuidEntry.Plain(1, 0x50654, 1, 2, 3), CpuidEntry.Indexed(7, 0, 4, 5, 6, 7));

        Assert.Equal(new CpuidAnswer(0, 0, 0, 0, Exact: false), CpuidLookup.Answer(table, 0x20, 0, tsxCtrl: 0));
    }
}
