using System.Collections;
using System.Collections.Immutable;
using System.Runtime.CompilerServices;

namespace CpuidFunctional.Core;

/// <summary>
/// An immutable array compared by content (ImmutableArray compares references). Use it for every array-like
/// member of a state record so record equality stays structural.
/// </summary>
/// <typeparam name="T">Element type.</typeparam>
public readonly struct ValueArray<T> : IEquatable<ValueArray<T>>, IReadOnlyList<T>
{
    private readonly ImmutableArray<T> items;

    /// <summary>Wraps an immutable array.</summary>
    public ValueArray(ImmutableArray<T> items) => this.items = items.IsDefault ? [] : items;

    /// <summary>The empty array.</summary>
    public static ValueArray<T> Empty { get; } = new([]);

    /// <summary>The items.</summary>
    public ImmutableArray<T> Items
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => items.IsDefault ? [] : items;
    }

    /// <inheritdoc/>
    public int Count
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Items.Length;
    }

    /// <inheritdoc/>
    public T this[int index]
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Items[index];
    }

    /// <inheritdoc/>
    public bool Equals(ValueArray<T> other) =>
        Items.AsSpan().SequenceEqual(other.Items.AsSpan(), EqualityComparer<T>.Default);

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is ValueArray<T> other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode()
    {
        var hash = new HashCode();
        foreach (var item in Items)
        {
            hash.Add(item);
        }
        return hash.ToHashCode();
    }

    /// <summary>Value equality.</summary>
    public static bool operator ==(ValueArray<T> left, ValueArray<T> right) => left.Equals(right);

    /// <summary>Value inequality.</summary>
    public static bool operator !=(ValueArray<T> left, ValueArray<T> right) => !left.Equals(right);

    /// <inheritdoc/>
    public IEnumerator<T> GetEnumerator() => ((IEnumerable<T>)Items).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>Contents, comma separated, in brackets.</summary>
    public override string ToString() => "[" + string.Join(", ", Items) + "]";

    /// <summary>Wraps an immutable array.</summary>
    public static implicit operator ValueArray<T>(ImmutableArray<T> items) => new(items);
}
