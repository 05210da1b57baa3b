using System.Buffers;
using System.Collections.Immutable;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace CpuidFunctional.Interpreter.Execution;

/// <summary>
/// An append-only builder local to one run (a <see cref="RunLog"/>'s outputs, and the codes behind its
/// <see cref="DictionaryLog{T}"/>s), frozen once into a <see cref="ValueArray{T}"/> at the end or read by segment.
/// Items go into fixed-size segments rented from a pool, so appending never copies what is already there, and the one
/// array the result keeps is allocated at the end with its exact length.
/// </summary>
/// <remarks>
/// Performance: a <c>List&lt;T&gt;</c> doubling its array copied every event reference again (with a GC write barrier
/// each) and left the final copy to make; here an event costs one store while the run lasts and one copy at the end.
/// The pool is the log's own, holding up to <see cref="PooledSegments"/> segments per item type: the shared pool keeps
/// about 32 arrays of a size per core, so a run that logged more (kvm-like-l1's 120,000 event codes in 20,000 round
/// trips fill 118 segments) allocated the rest afresh every run, and they lived long enough to be promoted. A segment
/// goes back cleared only if its items hold references (which the pool would otherwise keep alive).
/// </remarks>
internal sealed class SegmentedLog<T>
{
    private const int SegmentLength = 1024;

    private const int PooledSegments = 256;

    private static readonly ArrayPool<T> SegmentPool = ArrayPool<T>.Create(SegmentLength, PooledSegments);

    // Mutable: grows by one rented segment at a time; returned to the pool by Release.
    private readonly List<T[]> segments = [];

    // Mutable: items in the last segment.
    private int used = SegmentLength;

    // Mutable: total items appended.
    public int Count { get; private set; }

    public void Add(T item)
    {
        if (used == SegmentLength)
        {
            segments.Add(SegmentPool.Rent(SegmentLength));
            used = 0;
        }
        segments[^1][used++] = item;
        Count++;
    }

    /// <summary>The items in order, as an immutable value array; the log is empty afterwards and its segments go back to the pool.</summary>
    public ValueArray<T> ToValueArray()
    {
        if (Count == 0)
        {
            Release();
            return ValueArray<T>.Empty;
        }
        var items = new T[Count];
        var at = 0;
        foreach (var part in Filled())
        {
            part.CopyTo(items, at);
            at += part.Count;
        }
        Release();
        // The array is new and never written again: hand it over without another copy.
        return new ValueArray<T>(ImmutableCollectionsMarshal.AsImmutableArray(items));
    }

    /// <summary>The items in order, one segment's filled part at a time; valid until <see cref="Release"/>.</summary>
    public IEnumerable<ArraySegment<T>> Filled()
    {
        var at = 0;
        foreach (var segment in segments)
        {
            var n = Math.Min(SegmentLength, Count - at);
            yield return new ArraySegment<T>(segment, 0, n);
            at += n;
        }
    }

    /// <summary>Empties the log and gives its segments back to the pool.</summary>
    public void Release()
    {
        foreach (var segment in segments)
        {
            SegmentPool.Return(segment, clearArray: RuntimeHelpers.IsReferenceOrContainsReferences<T>());
        }
        segments.Clear();
        used = SegmentLength;
        Count = 0;
    }
}
