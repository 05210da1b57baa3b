namespace CpuidFunctional.Properties.Core;

public class CpuidLookupTests
{
    private static readonly CpuidEntry Leaf0Intel = CpuidEntry.Plain(0, 0xD, Vendor.Intel.Ebx, Vendor.Intel.Ecx, Vendor.Intel.Edx);

    [Fact]
    public void First_match_wins_and_unflagged_entries_match_every_subleaf()
    {
        var table = CpuidTable.Of(
            Leaf0Intel,
            CpuidEntry.Plain(0xD, 1, 2, 3, 4),
            CpuidEntry.Indexed(0xD, 1, 9, 9, 9, 9)
        );

        var answer = CpuidLookup.Answer(table, 0xD, 1, tsxCtrl: 0);

        Assert.Equal(new CpuidAnswer(1, 2, 3, 4, Exact: true), answer);
    }
}
