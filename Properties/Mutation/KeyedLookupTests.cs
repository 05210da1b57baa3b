namespace CpuidFunctional.Properties.Mutation;

/// <summary>
/// The lookup rule of the wrong variant <c>LookupByLeafSubleaf</c>, as its documentation defines it: entries found by
/// exact (leaf, sub-leaf) key whatever their flags, the last duplicate winning; KVM's rule takes the first match.
/// </summary>
public class KeyedLookupTests
{
    private static readonly CpuidTable Table = CpuidTable.Of(
        CpuidEntry.Plain(1, 0x50654, 0, 0, 0),
        CpuidEntry.Indexed(7, 0, 1, 0, 0, 0),
        CpuidEntry.Plain(7, 2, 0, 0, 0),
        CpuidEntry.Indexed(7, 0, 3, 0, 0, 0)
    );

    [Fact]
    public void The_keyed_rule_finds_the_last_entry_with_the_key_and_KVMs_the_first_match()
    {
        Assert.Equal(3, CpuidLookup.IndexOf(Table, 7, 0, LookupRule.KeyedByLeafSubleaf));
        Assert.Equal(1, CpuidLookup.IndexOf(Table, 7, 0, LookupRule.KvmOrderedFirstMatch));
    }

    [Fact]
    public void The_keyed_rule_finds_the_first_entry_of_the_table_and_nothing_for_a_missing_key()
    {
        Assert.Equal(0, CpuidLookup.IndexOf(Table, 1, 0, LookupRule.KeyedByLeafSubleaf));
        Assert.Equal(-1, CpuidLookup.IndexOf(Table, 1, 1, LookupRule.KeyedByLeafSubleaf));
        Assert.Equal(-1, CpuidLookup.IndexOf(Table, 0xD, 0, LookupRule.KeyedByLeafSubleaf));
    }

    [Fact]
    public void A_function_lookup_takes_sub_leaf_0_by_key_under_the_keyed_rule_and_the_first_entry_under_KVMs()
    {
        Assert.Equal(3, CpuidLookup.IndexOfFunction(Table, 7, LookupRule.KeyedByLeafSubleaf));
        Assert.Equal(1, CpuidLookup.IndexOfFunction(Table, 7, LookupRule.KvmOrderedFirstMatch));
    }

    [Fact]
    public void KVMs_function_lookup_takes_the_first_entry_of_the_function_even_if_its_significant_index_is_not_0()
    {
        var table = CpuidTable.Of(CpuidEntry.Indexed(0xD, 1, 0, 0, 0, 0), CpuidEntry.Indexed(0xD, 0, 0, 0, 0, 0));

        Assert.Equal(0, CpuidLookup.IndexOfFunction(table, 0xD, LookupRule.KvmOrderedFirstMatch));
        Assert.Equal(1, CpuidLookup.IndexOf(table, 0xD, 0, LookupRule.KvmOrderedFirstMatch));
    }
}
