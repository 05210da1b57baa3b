using System.Buffers.Binary;
using System.Collections;
using System.Collections.Immutable;
using CpuidFunctional.Core;

namespace CpuidFunctional.Interpreter.Execution;

/// <summary>
/// An immutable array stored dictionary-encoded: its distinct items once each, and per position the code (index) of
/// its item, one byte wide while there are at most 256 distinct items, two up to 65,536, else four. A run's event
/// trace repeats a handful of events thousands of times, so it keeps about one byte per event instead of an
/// eight-byte reference. Reads give back the very objects that were encoded. Compared by content, like
/// <see cref="ValueArray{T}"/>: two arrays are equal when their items are equal position by position, whatever the
/// encoding.
/// </summary>
/// <typeparam name="T">Element type (a reference type: the dictionary holds each distinct object once).</typeparam>
public sealed class DictionaryArray<T> : IEquatable<DictionaryArray<T>>, IReadOnlyList<T>
    where T : class
{
    private readonly ImmutableArray<T> distinct;

    private readonly ImmutableArray<byte> codes;

    /// <summary>
    /// Wraps distinct items and their codes, each as wide (little-endian) as <see cref="CodeWidth"/> says for that many
    /// items. Only <see cref="DictionaryLog{T}"/> builds one, and every code it writes indexes <paramref name="distinct"/>.
    /// </summary>
    internal DictionaryArray(ImmutableArray<T> distinct, ImmutableArray<byte> codes)
    {
        this.distinct = distinct;
        this.codes = codes;
    }

    /// <summary>The empty array.</summary>
    public static DictionaryArray<T> Empty { get; } = new([], []);

    /// <summary>Bytes per code: derived from the number of distinct items, as the log wrote them.</summary>
    private int Width => CodeWidth(distinct.Length);

    /// <summary>The one rule for a code's width: the fewest of 1, 2 or 4 bytes that can index <paramref name="distinctItems"/> items.</summary>
    internal static int CodeWidth(int distinctItems) =>
        distinctItems switch
        {
            <= 1 << 8 => 1,
            <= 1 << 16 => 2,
            _ => 4,
        };

    /// <summary>Writes <paramref name="values"/> into <paramref name="codes"/> from its start, <paramref name="width"/> bytes (little-endian) each.</summary>
    internal static void WriteCodes(Span<byte> codes, int width, ReadOnlySpan<int> values)
    {
        switch (width)
        {
            case 1:
                for (var i = 0; i < values.Length; i++)
                {
                    codes[i] = (byte)values[i];
                }
                break;
            case 2:
                for (var i = 0; i < values.Length; i++)
                {
                    BinaryPrimitives.WriteUInt16LittleEndian(codes[(i * 2)..], (ushort)values[i]);
                }
                break;
            case 4:
                for (var i = 0; i < values.Length; i++)
                {
                    BinaryPrimitives.WriteInt32LittleEndian(codes[(i * 4)..], values[i]);
                }
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(width), width, "a code is 1, 2 or 4 bytes wide");
        }
    }

    /// <summary>The distinct items, in the order they first appear.</summary>
    public ImmutableArray<T> Distinct => distinct;

    /// <inheritdoc/>
    public int Count => codes.Length / Width;

    /// <inheritdoc/>
    public T this[int index] => distinct[Code(index)];

    private int Code(int index)
    {
        var at = codes.AsSpan();
        return Width switch
        {
            1 => at[index],
            2 => BinaryPrimitives.ReadUInt16LittleEndian(at[(index * 2)..]),
            _ => BinaryPrimitives.ReadInt32LittleEndian(at[(index * 4)..]),
        };
    }

    /// <inheritdoc/>
    public bool Equals(DictionaryArray<T>? other)
    {
        if (other is null || other.Count != Count)
        {
            return false;
        }
        if (ReferenceEquals(this, other) || (distinct == other.distinct && codes == other.codes))
        {
            return true;
        }
        for (var i = 0; i < Count; i++)
        {
            if (!EqualityComparer<T>.Default.Equals(this[i], other[i]))
            {
                return false;
            }
        }
        return true;
    }

    /// <inheritdoc/>
    public override bool Equals(object? obj) => Equals(obj as DictionaryArray<T>);

    /// <inheritdoc/>
    public override int GetHashCode()
    {
        var hash = new HashCode();
        foreach (var item in this)
        {
            hash.Add(item);
        }
        return hash.ToHashCode();
    }

    /// <inheritdoc/>
    public IEnumerator<T> GetEnumerator()
    {
        for (var i = 0; i < Count; i++)
        {
            yield return this[i];
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>Contents, comma separated, in brackets (as <see cref="ValueArray{T}"/> prints them).</summary>
    public override string ToString() => "[" + string.Join(", ", this) + "]";
}
