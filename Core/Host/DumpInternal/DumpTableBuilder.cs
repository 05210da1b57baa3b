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

    /// <summary>
    /// What makes the XSAVE leaves impossible, with the line to blame, or null: XCR0 support (0xD.0 EDX:EAX) without
    /// x87 and SSE, or with a bit ≥ 2 that no 0xD.i line enumerates (nonzero EAX), and components whose standard
    /// end (EBX + EAX) or compacted running size does not fit the 32 bits CPUID.0xD.0/1:EBX report
    /// (<c>xstate_required_size</c> would wrap). No 0xD.0 line, or one with EDX:EAX = 0, means no XSAVE: nothing to check.
    /// </summary>
    public (int Line, string Message)? XsaveProblem()
    {
        if (!seen.TryGetValue((0xD, 0), out var d0Line))
        {
            return null;
        }
        var d0 = entries.First(e => e.Function == 0xD && e.Index == 0);
        var supported = d0.Eax | ((ulong)d0.Edx << 32);
        if (supported == 0)
        {
            return null;
        }
        if ((supported & 0x3) != 0x3)
        {
            return (d0Line, $"XCR0 support 0x{supported:x} (leaf 0xD sub-leaf 0 EDX:EAX) lacks x87 or SSE (bits 0 and 1), which every XSAVE processor supports");
        }
        var components = entries.Where(e => e.Function == 0xD && e.Index is >= 2 and < 64 && e.Eax != 0).OrderBy(e => e.Index).ToList();
        for (var bit = 2; bit < 64; bit++)
        {
            if ((supported & (1ul << bit)) != 0 && !components.Exists(c => c.Index == bit))
            {
                return (d0Line, $"XCR0 support 0x{supported:x} (leaf 0xD sub-leaf 0 EDX:EAX) has bit {bit}, but no leaf 0xD sub-leaf 0x{bit:X2} line gives that XSAVE component a size");
            }
        }
        var compacted = (ulong)XsaveLayout.LegacyAndHeaderSize;
        foreach (var c in components)
        {
            var line = seen[(c.Function, c.Index)];
            if ((ulong)c.Ebx + c.Eax > uint.MaxValue)
            {
                return (line, $"XSAVE component {c.Index} at offset 0x{c.Ebx:x} (EBX) with size 0x{c.Eax:x} (EAX) ends beyond 4 GiB: the standard size would not fit CPUID.0xD.0:EBX");
            }
            compacted = ((c.Ecx & 0x2) != 0 ? (compacted + 63) & ~63ul : compacted) + c.Eax;
            if (compacted > uint.MaxValue)
            {
                return (line, $"XSAVE components up to {c.Index} (size 0x{c.Eax:x} in EAX) add up to 0x{compacted:x} bytes compacted, beyond 4 GiB: the size would not fit CPUID.0xD.1:EBX");
            }
        }
        return null;
    }
}
