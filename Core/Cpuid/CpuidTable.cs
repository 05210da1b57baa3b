using System.Collections.Immutable;
using System.Text;

namespace CpuidFunctional.Core.Cpuid;

/// <summary>
/// A vCPU's CPUID table (<c>vcpu->arch.cpuid_entries</c>): an ordered list of entries compared by content.
/// Order matters: KVM's lookup takes the first match.
/// </summary>
/// <remarks>
/// Persistent: a version is an immutable base array, shared by every version derived from it, plus at most
/// <see cref="MaxPatches"/> replaced entries. A runtime update rewrites outputs of the same four leaves again and
/// again, so <see cref="SetItem"/> and <see cref="SetItems"/> copy only the small patch list, never the whole table
/// (about 1.4 KB on Skylake-SP). A patch keeps its entry's key (function, index, flags), so lookups scan the base
/// alone; a write that changes a key, or one patch too many, makes a new base. Equality is by content whatever the
/// representation; versions of one base compare only their patched positions. Each base also records where the
/// first entry of each basic (0–0x1F) and extended (0x8000_0000–0x8000_001F) function sits, so a lookup of such a
/// function starts its ordered scan there rather than at entry 0 (no earlier entry can match).
/// </remarks>
public sealed class CpuidTable : IEquatable<CpuidTable>
{
    /// <summary><c>KVM_MAX_CPUID_ENTRIES</c>: KVM_SET_CPUID2 with more entries fails with E2BIG.</summary>
    public const int MaxEntries = 256;

    /// <summary>Replaced entries a version keeps beside its base before a write makes a new base.</summary>
    internal const int MaxPatches = 8;

    private static readonly Patch[] NoPatches = [];

    // Functions with a recorded first position: 0..31 and 0x8000_0000..0x8000_001F.
    private const int RangeLength = 32;

    // The base entries, shared between versions (never written).
    private readonly ImmutableArray<CpuidEntry> entries;

    // Entries that replace base ones, sorted by position, each with its base entry's key (never written).
    private readonly Patch[] patches;

    // Per recorded function (see Slot), the position of the base's first entry with it, or Count if none has it
    // (derived from the base when the base is made; shared with it, never written).
    private readonly int[] firstPositions;

    private CpuidTable(ImmutableArray<CpuidEntry> entries, Patch[] patches, int[] firstPositions)
    {
        this.entries = entries;
        this.patches = patches;
        this.firstPositions = firstPositions;
    }

    private CpuidTable(ImmutableArray<CpuidEntry> entries)
        : this(entries, NoPatches, FirstPositions(entries)) { }

    /// <summary>The empty table a vCPU has at creation.</summary>
    public static CpuidTable Empty { get; } = new(ImmutableArray<CpuidEntry>.Empty);

    /// <summary>A table with these entries, in this order.</summary>
    public static CpuidTable Of(IEnumerable<CpuidEntry> entries) => new([.. entries]);

    /// <summary>A table with these entries, in this order.</summary>
    public static CpuidTable Of(params ReadOnlySpan<CpuidEntry> entries) => new([.. entries]);

    /// <summary>A table that takes ownership of an already immutable array.</summary>
    public static CpuidTable Of(ImmutableArray<CpuidEntry> entries) =>
        entries.IsDefaultOrEmpty ? Empty : new(entries);

    /// <summary>The entries in order (a new array when entries are patched).</summary>
    public ImmutableArray<CpuidEntry> Entries => patches.Length == 0 ? entries : Flatten();

    /// <summary><c>nent</c>.</summary>
    public int Count => entries.Length;

    /// <summary>Entry at a position.</summary>
    public CpuidEntry this[int position]
    {
        get => Current(patches, position);
    }

    /// <summary>
    /// Position of the first entry matching (function, index) by KVM's rule, or -1
    /// (<c>kvm_find_cpuid_entry_index</c>). Patches keep their keys, so the base alone is scanned.
    /// </summary>
    public int IndexOf(uint function, uint index)
    {
        var span = entries.AsSpan();
        for (var i = ScanStart(function); i < span.Length; i++)
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
        for (var i = ScanStart(function); i < span.Length; i++)
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
        return i < 0 ? null : this[i];
    }

    /// <summary>The table with the entry at a position replaced; the same instance when nothing changes.</summary>
    public CpuidTable SetItem(int position, CpuidEntry entry) => SetItems([(position, entry)]);

    /// <summary>
    /// The table with several positions replaced at once (negative positions are skipped); the same instance when
    /// nothing changes. Copies only the patch list while every replaced entry keeps its key and the patches fit.
    /// </summary>
    public CpuidTable SetItems(ReadOnlySpan<(int Position, CpuidEntry Entry)> updates)
    {
        Span<Patch> merged = stackalloc Patch[MaxPatches];
        patches.AsSpan().CopyTo(merged);
        var count = patches.Length;
        var changed = false;
        var patchable = true;
        foreach (ref readonly var update in updates)
        {
            var position = update.Position;
            if (position < 0 || Current(merged[..count], position).Equals(update.Entry))
            {
                continue;
            }
            changed = true;
            patchable &= SameKey(entries.ItemRef(position), update.Entry) && Insert(merged, ref count, position, update.Entry);
        }
        if (!changed)
        {
            return this;
        }
        if (patchable)
        {
            return new(entries, merged[..count].ToArray(), firstPositions);
        }
        var copy = Flatten().ToBuilder();
        foreach (var (position, entry) in updates)
        {
            if (position >= 0)
            {
                copy[position] = entry;
            }
        }
        return new(copy.MoveToImmutable());
    }

    /// <summary>The table with an entry appended.</summary>
    public CpuidTable Add(CpuidEntry entry) => new(Entries.Add(entry));

    /// <summary>The table without the entries that match a predicate.</summary>
    public CpuidTable RemoveAll(Predicate<CpuidEntry> match)
    {
        var all = Entries;
        var kept = all.RemoveAll(match);
        return kept.Length == all.Length ? this : new(kept);
    }

    /// <inheritdoc/>
    public bool Equals(CpuidTable? other)
    {
        if (other is null || other.Count != Count)
        {
            return false;
        }
        if (ReferenceEquals(this, other))
        {
            return true;
        }
        if (entries == other.entries)
        {
            // One base: only patched positions can differ.
            return SamePatches(patches, other.patches) || (PatchedAgree(this, other) && PatchedAgree(other, this));
        }
        for (var i = 0; i < Count; i++)
        {
            if (this[i] != other[i])
            {
                return false;
            }
        }
        return true;
    }

    /// <inheritdoc/>
    public override bool Equals(object? obj) => Equals(obj as CpuidTable);

    /// <inheritdoc/>
    public override int GetHashCode()
    {
        var hash = new HashCode();
        for (var i = 0; i < Count; i++)
        {
            hash.Add(this[i]);
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
        for (var i = 0; i < Count; i++)
        {
            sb.Append("\n  ").Append(this[i].ToString());
        }
        return sb.ToString();
    }

    /// <summary>Where an ordered scan for <paramref name="function"/> may start: no base entry before it has that function.</summary>
    private int ScanStart(uint function) => Slot(function) is var slot and >= 0 ? firstPositions[slot] : 0;

    /// <summary>The recorded first position's slot of a function, or -1 for a function without one.</summary>
    private static int Slot(uint function) =>
        function < RangeLength ? (int)function
        : function - 0x8000_0000u < RangeLength ? RangeLength + (int)(function - 0x8000_0000u)
        : -1;

    /// <summary>The first position of each recorded function in a base (its length where the function is absent).</summary>
    private static int[] FirstPositions(ImmutableArray<CpuidEntry> entries)
    {
        var first = new int[2 * RangeLength];
        Array.Fill(first, entries.Length);
        for (var i = entries.Length - 1; i >= 0; i--)
        {
            if (Slot(entries[i].Function) is var slot and >= 0)
            {
                first[slot] = i;
            }
        }
        return first;
    }

    /// <summary>The entry at a position with a patch list (being built) applied; a reference, so no entry is copied to compare it.</summary>
    private ref readonly CpuidEntry Current(ReadOnlySpan<Patch> list, int position)
    {
        foreach (ref readonly var p in list)
        {
            if (p.Position == position)
            {
                return ref p.Entry;
            }
        }
        return ref entries.ItemRef(position);
    }

    /// <summary>Whether two patch lists are equal item by item (the common case: versions updated alike).</summary>
    private static bool SamePatches(ReadOnlySpan<Patch> a, ReadOnlySpan<Patch> b) => a.SequenceEqual(b);

    /// <summary>Whether two tables of one base agree at every position <paramref name="a"/> patches.</summary>
    private static bool PatchedAgree(CpuidTable a, CpuidTable b)
    {
        foreach (ref readonly var p in a.patches.AsSpan())
        {
            if (p.Entry != b[p.Position])
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>A patch may replace an entry only with one of the same key: lookups read keys from the base.</summary>
    private static bool SameKey(in CpuidEntry a, in CpuidEntry b) =>
        a.Function == b.Function && a.Index == b.Index && a.Flags == b.Flags;

    /// <summary>Puts a patch into a sorted list (replacing one at the same position); false if the list is full.</summary>
    private static bool Insert(Span<Patch> list, ref int count, int position, in CpuidEntry entry)
    {
        var at = 0;
        while (at < count && list[at].Position < position)
        {
            at++;
        }
        if (at < count && list[at].Position == position)
        {
            list[at].Entry = entry;
            return true;
        }
        if (count == list.Length)
        {
            return false;
        }
        list[at..count].CopyTo(list[(at + 1)..]);
        list[at].Position = position;
        list[at].Entry = entry;
        count++;
        return true;
    }

    /// <summary>The base with every patch applied, as a new array.</summary>
    private ImmutableArray<CpuidEntry> Flatten()
    {
        var copy = entries.ToBuilder();
        foreach (ref readonly var p in patches.AsSpan())
        {
            copy[p.Position] = p.Entry;
        }
        return copy.MoveToImmutable();
    }

    /// <summary>
    /// One replaced entry. Fields, not properties: lookups hand out references to them, and <see cref="Insert"/> writes
    /// them in place in the list being built (copying a freshly built patch again waited on store forwarding while an
    /// entry was 28 bytes; see <see cref="CpuidEntry"/>). A version's own list is never written.
    /// </summary>
    private struct Patch : IEquatable<Patch>
    {
        public int Position;
        public CpuidEntry Entry;

        public readonly bool Equals(Patch other) => Position == other.Position && Entry.Equals(other.Entry);

        public override readonly bool Equals(object? obj) => obj is Patch other && Equals(other);

        public override readonly int GetHashCode() => HashCode.Combine(Position, Entry);
    }
}
