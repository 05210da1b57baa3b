using System.Collections.Immutable;
using System.Runtime.InteropServices;

namespace CpuidFunctional.Interpreter.Execution;

/// <summary>
/// An append-only builder local to one run, frozen once into a <see cref="DictionaryArray{T}"/>: the run's trace and
/// observations. Each item is coded by identity (the event cache hands out one object per value, so a loop's few
/// events and observations get a few codes); the codes go into pooled segments of plain integers.
/// </summary>
/// <remarks>
/// Performance: a log of references paid the GC's write barrier on every append, and once the run's segments (which
/// outlive a collection, being pooled) held references to younger events, every gen0 collection scanned their cards.
/// Integers carry neither cost, and the frozen arrays keep about one byte per item instead of eight.
/// </remarks>
internal sealed class DictionaryLog<T>
    where T : class
{
    // A power of two: how many of the most recently coded items are looked for before the dictionary.
    private const int RecentLength = 8;

    private readonly SegmentedLog<int> codes = new();

    // Mutable: each item coded so far, in the order first seen; its index is its code.
    private readonly List<T> distinct = [];

    // Mutable: item → code, by reference.
    private readonly Dictionary<T, int> codeOf = new(ReferenceEqualityComparer.Instance);

    // Mutable: the last items coded, with their codes, filled round-robin.
    private readonly (T? Item, int Code)[] recent = new (T?, int)[RecentLength];

    // Mutable: the slot of recent the next miss fills.
    private int nextRecent;

    public int Count => codes.Count;

    public void Add(T item) => codes.Add(CodeOf(item));

    private int CodeOf(T item)
    {
        foreach (var (seen, code) in recent)
        {
            if (ReferenceEquals(seen, item))
            {
                return code;
            }
        }
        if (!codeOf.TryGetValue(item, out var found))
        {
            found = distinct.Count;
            distinct.Add(item);
            codeOf.Add(item, found);
        }
        recent[nextRecent] = (item, found);
        nextRecent = (nextRecent + 1) & (RecentLength - 1);
        return found;
    }

    /// <summary>The items in order, dictionary-encoded; the log is empty afterwards (its segments back in the pool, no item coded).</summary>
    public DictionaryArray<T> ToDictionaryArray()
    {
        var width = DictionaryArray<T>.CodeWidth(distinct.Count);
        var packed = new byte[codes.Count * width];
        var at = 0;
        foreach (var part in codes.Filled())
        {
            DictionaryArray<T>.WriteCodes(packed.AsSpan(at * width), width, part);
            at += part.Count;
        }
        // Both arrays are new and never written again: hand them over without another copy.
        var frozen = new DictionaryArray<T>(
            ImmutableCollectionsMarshal.AsImmutableArray(distinct.ToArray()),
            ImmutableCollectionsMarshal.AsImmutableArray(packed));
        codes.Release();
        distinct.Clear();
        codeOf.Clear();
        Array.Clear(recent);
        nextRecent = 0;
        return frozen;
    }
}
