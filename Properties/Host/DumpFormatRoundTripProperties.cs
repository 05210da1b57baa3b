using System.Globalization;
using System.Text;
using CsCheck;
using static CpuidFunctional.Properties.Host.HostTestData;

namespace CpuidFunctional.Properties.Host;

/// <summary>
/// Random CPUID tables written out in both dump formats read back as the same table: the importers agree on every
/// value, not only on the four real dumps.
/// </summary>
public class DumpFormatRoundTripProperties
{
    // Not leaf 0xD: random XSAVE leaves are impossible ones, which the importers refuse (DumpXsaveImportErrorTests).
    private static readonly Gen<uint> Function =
        Gen.OneOf(Gen.UInt[0, 0x24], Gen.UInt[0x80000000, 0x80000028], Gen.UInt).Where(f => f != 0xD);

    private static readonly Gen<CpuidEntry> Entry =
        from function in Function
        from index in Gen.Frequency((2, Gen.Const(0u)), (1, Gen.UInt[0, 0x1FF]))
        from eax in Gen.UInt
        from ebx in Gen.UInt
        from ecx in Gen.UInt
        from edx in Gen.UInt
        select new CpuidEntry(function, index, IndexedLeaves.FlagsFor(function), eax, ebx, ecx, edx);

    private static readonly Gen<CpuidTable> Table =
        Entry.Array[1, 40].Select(entries => CpuidTable.Of(entries.DistinctBy(e => (e.Function, e.Index))));

    private static string AsAida64(CpuidTable table, string newline)
    {
        var text = new StringBuilder("------[ CPUID Registers / Logical CPU #0 ]------").Append(newline);
        foreach (var e in table.Entries)
        {
            text.Append(CultureInfo.InvariantCulture, $"CPUID {e.Function:X8}: {e.Eax:X8}-{e.Ebx:X8}-{e.Ecx:X8}-{e.Edx:X8}");
            if (e.Index != 0 || e.HasSignificantIndex)
            {
                text.Append(CultureInfo.InvariantCulture, $" [SL {e.Index:X2}]");
            }
            text.Append(" [a comment]").Append(newline);
        }
        return text.ToString();
    }

    private static string AsCpuidR(CpuidTable table, string newline)
    {
        var text = new StringBuilder("CPU 0:").Append(newline);
        foreach (var e in table.Entries)
        {
            text.Append(CultureInfo.InvariantCulture, $"   0x{e.Function:x8} 0x{e.Index:x2}: eax=0x{e.Eax:x8} ebx=0x{e.Ebx:x8} ecx=0x{e.Ecx:x8} edx=0x{e.Edx:x8}")
                .Append(newline);
        }
        return text.ToString();
    }

    [Fact]
    public void A_table_written_in_either_format_reads_back_unchanged() =>
        Gen.Select(Table, Gen.OneOf(Gen.Const("\n"), Gen.Const("\r\n"))).Sample(
            (table, newline) =>
            {
                Assert.Equal(table, HostOf(Aida64Dump.Parse(AsAida64(table, newline), "random.aida64.txt")).Cpuid);
                Assert.Equal(table, HostOf(CpuidRawDump.Parse(AsCpuidR(table, newline), "random.cpuid-r.txt")).Cpuid);
            },
            iter: 300
        );
}
