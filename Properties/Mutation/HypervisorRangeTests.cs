namespace CpuidFunctional.Properties.Mutation;

/// <summary>
/// The hypervisor class of <c>get_out_of_range_cpuid_entry</c>: a function in 0x40000000–0x4FFFFFFF takes its limit
/// from its 0x100-aligned base leaf, including 0x40000000 itself.
/// </summary>
public class HypervisorRangeTests
{
    private static readonly CpuidEntry Leaf0Intel = CpuidEntry.Plain(0, 0xD, Vendor.Intel.Ebx, Vendor.Intel.Ecx, Vendor.Intel.Edx);

    [Theory]
    [InlineData(0x4000_0000u, 0x4000_0000u)]
    [InlineData(0x4000_0001u, 0x4000_0000u)]
    [InlineData(0x4000_01FFu, 0x4000_0100u)]
    [InlineData(0x4FFF_FFFFu, 0x4FFF_FF00u)]
    [InlineData(0x3FFF_FFFFu, 0u)]
    [InlineData(0x5000_0000u, 0u)]
    [InlineData(0x8000_0001u, 0x8000_0000u)]
    [InlineData(0xC000_0000u, 0xC000_0000u)]
    [InlineData(0xC000_0001u, 0xC000_0000u)]
    public void The_class_base_of_a_function_is_its_ranges_limit_leaf(uint function, uint classBase)
    {
        Assert.Equal(classBase, CpuidLookup.ClassBase(function));
    }

    [Fact]
    public void CPUID_0x40000000_with_an_unlisted_subleaf_is_in_range_of_its_own_leaf_and_answers_zeros()
    {
        // The only 0x40000000 entry is flagged index-significant for sub-leaf 0, so sub-leaf 1 has no exact entry.
        // Its class leaf is 0x40000000 itself (EAX 0x40000001 ≥ the function): in range, so no redirect to the max
        // basic leaf 0xD (whose sub-leaf 1 would answer 0x11..0x44).
        var table = CpuidTable.Of(
            Leaf0Intel,
            CpuidEntry.Indexed(0xD, 1, 0x11, 0x22, 0x33, 0x44),
            CpuidEntry.Indexed(0x4000_0000, 0, 0x4000_0001, 0x4B4D564B, 0x564B4D56, 0x4D)
        );

        var answer = CpuidLookup.Answer(table, 0x4000_0000, 1, tsxCtrl: 0);

        Assert.Equal(new CpuidAnswer(0, 0, 0, 0, Exact: false), answer);
    }
}
