using System.Collections.Immutable;
using System.Globalization;
using CpuidFunctional.Core.Cpuid;

namespace CpuidFunctional.Core.Host.DumpInternal;

/// <summary>
/// Collects the entries of one parse in file order and refuses a (leaf, sub-leaf) given twice. Local to a single
/// <c>Parse</c> call; the mutable state never escapes it.
/// </summary>
internal sealed class DumpTableBuilder
{
    private readonly ImmutableArray<CpuidEntry>.Builder entries = ImmutableArray.CreateBuilder<CpuidEntry>();

    // (leaf, sub-leaf) -> the line that gave it, for the duplicate message; filled as lines are read.
    private readonly Dictionary<(uint Function, uint Index), int> seen = [];

    public int Count => entries.Count;

    /// <summary>Adds an entry; returns an error message if that (leaf, sub-leaf) was already given.</summary>
    public string? Add(CpuidEntry entry, int line)
    {
        if (seen.TryGetValue((entry.Function, entry.Index), out var first))
        {
            return string.Create(
                CultureInfo.InvariantCulture,
                $"duplicate leaf 0x{entry.Function:X8} sub-leaf 0x{entry.Index:X2}: expected each (leaf, sub-leaf) once, but line {first} already gave it"
            );
        }
        seen.Add((entry.Function, entry.Index), line);
        entries.Add(entry);
        return null;
    }

    public CpuidTable Build() => CpuidTable.Of(entries.ToImmutable());
}
