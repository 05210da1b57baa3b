using System.Globalization;

namespace CpuidFunctional.Core.Checking;

/// <summary>
/// One part <see cref="Index"/> of <see cref="Count"/> of a run made of independent pieces (0-based): an exhaustive
/// sweep over configurations or a random run over seeds. A piece at position p belongs to shard p mod Count, so the
/// shards are disjoint and together cover the run.
/// </summary>
/// <param name="Index">Which part, 0 ≤ Index &lt; Count.</param>
/// <param name="Count">How many parts.</param>
public readonly record struct Shard(int Index, int Count)
{
    /// <summary>The whole run: part 0 of 1.</summary>
    public static Shard Whole => new(0, 1);

    /// <summary>Whether the run is split at all.</summary>
    public bool IsWhole => Count <= 1;

    /// <summary>Whether a position of an enumeration belongs to this shard.</summary>
    public bool Owns(long position) => IsWhole || position % Count == Index;

    /// <summary>Parses <c>I/N</c> with 0 ≤ I &lt; N; null if malformed.</summary>
    public static Shard? Parse(string text)
    {
        var slash = text.IndexOf('/', StringComparison.Ordinal);
        if (slash <= 0
            || !int.TryParse(text.AsSpan(0, slash), NumberStyles.None, CultureInfo.InvariantCulture, out var index)
            || !int.TryParse(text.AsSpan(slash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var count)
            || count < 1
            || index >= count)
        {
            return null;
        }
        return new Shard(index, count);
    }

    /// <inheritdoc/>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Index}/{Count}");
}
