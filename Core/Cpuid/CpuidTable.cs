using System.Collections.Immutable;
using System.Text;

namespace CpuidFunctional.Core.Cpuid;

/// <summary>
/// A vCPU's CPUID table (<c>vcpu->arch.cpuid_entries</c>): an ordered list of entries compared by content.
/// Order matters: KVM's lookup takes the first match.
/// </summary>
public sealed class CpuidTable : IEquatable<CpuidTable>
{
    /// <summary><c>KVM_MAX_CPUID_ENTRIES</c>: KVM_SET_CPUID2 with more entries fails with E2BIG.</summary>
    public const int MaxEntries = 256;

    private readonly ImmutableArray<CpuidEntry> entries;

    private CpuidTable(ImmutableArray<CpuidEntry> entries) => this.entries = entries;

    /// <summary>The empty table a vCPU has at creation.</summary>
    public static CpuidTable Empty { get; } = new(ImmutableArray<CpuidEntry>.Empty);

    /// <summary>A table with these entries, in this order.</summary>
    public static CpuidTable Of(IEnumerable<CpuidEntry> entries) => new([.. entries]);

    /// <summary>A table with these entries, in this order.</summary>
    public static CpuidTable Of(params ReadOnlySpan<CpuidEntry> entries) => new([.. entries]);

    /// <summary>A table that takes ownership of an already immutable array.</summary>
    public static CpuidTable Of(ImmutableArray<CpuidEntry> entries) =>
        entries.IsDefaultOrEmpty ? Empty : new(entries);

    /// <summary>The entries in order.</summary>
    public ImmutableArray<CpuidEntry> Entries => entries;

    /// <summary><c>nent</c>.</summary>
    public int Count => entries.Length;

    /// <summary>Entry at a position.</summary>
    public CpuidEntry this[int position] => entries[position];

    /// <summary>
    /// Position of the first entry matching (function, index) by KVM's rule, or -1
    /// (<c>kvm_find_cpuid_entry_index</c>).
    /// </summary>
    public int IndexOf(uint function, uint index)
    {
        var span = entries.AsSpan();
        for (var i = 0; i < span.Length; i++)
        {
            if (span[i].Matches(function, index))
            {
                return i;
            }
        }
        return -1;
    }

    /// <summary>
    /// Position of the first entry with this function whatever its index, or -1
    /// (<c>kvm_find_cpuid_entry</c> with <c>KVM_CPUID_INDEX_NOT_SIGNIFICANT</c>).
    /// </summary>
    public int IndexOfFunction(uint function)
    {
        var span = entries.AsSpan();
        for (var i = 0; i < span.Length; i++)
        {
            if (span[i].Function == function)
            {
                return i;
            }
        }
        return -1;
    }

    /// <summary>The first entry matching (function, index) by KVM's rule.</summary>
    public CpuidEntry? Find(uint function, uint index)
    {
        var i = IndexOf(function, index);
        return i < 0 ? null : entries[i];
    }

    /// <summary>The table with the entry at a position replaced; the same instance when nothing changes.</summary>
    public CpuidTable SetItem(int position, CpuidEntry entry) =>
        entries[position] == entry ? this : new(entries.SetItem(position, entry));

    /// <summary>The table with several positions replaced at once (one copy); the same instance when nothing changes.</summary>
    public CpuidTable SetItems(ReadOnlySpan<(int Position, CpuidEntry Entry)> updates)
    {
        var changed = false;
        foreach (var (position, entry) in updates)
        {
            changed |= position >= 0 && entries[position] != entry;
        }
        if (!changed)
        {
            return this;
        }
        var builder = entries.ToBuilder();
        foreach (var (position, entry) in updates)
        {
            if (position >= 0)
            {
                builder[position] = entry;
            }
        }
        return new(builder.MoveToImmutable());
    }

    /// <summary>The table with an entry appended.</summary>
    public CpuidTable Add(CpuidEntry entry) => new(entries.Add(entry));

    /// <summary>The table without the entries that match a predicate.</summary>
    public CpuidTable RemoveAll(Predicate<CpuidEntry> match)
    {
        var kept = entries.RemoveAll(match);
        return kept.Length == entries.Length ? this : new(kept);
    }

    /// <inheritdoc/>
    public bool Equals(CpuidTable? other) =>
        other is not null
        && (ReferenceEquals(this, other) || entries.AsSpan().SequenceEqual(other.entries.AsSpan()));

    /// <inheritdoc/>
    public override bool Equals(object? obj) => Equals(obj as CpuidTable);

    /// <inheritdoc/>
    public override int GetHashCode()
    {
        var hash = new HashCode();
        foreach (var e in entries)
        {
            hash.Add(e);
        }
        return hash.ToHashCode();
    }

    /// <summary>Value equality.</summary>
    public static bool operator ==(CpuidTable? left, CpuidTable? right) =>
        left is null ? right is null : left.Equals(right);

    /// <summary>Value inequality.</summary>
    public static bool operator !=(CpuidTable? left, CpuidTable? right) => !(left == right);

    /// <summary>One entry per line, in order.</summary>
    public override string ToString()
    {
        var sb = new StringBuilder();
        sb.Append("CpuidTable(nent=").Append(entries.Length).Append(')');
        foreach (var e in entries)
        {
            sb.Append("\n  ").Append(e.ToString());
        }
        return sb.ToString();
    }
}
