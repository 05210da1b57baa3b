using System.Collections.Immutable;
using System.Runtime.CompilerServices;
using System.Text;

namespace CpuidFunctional.Core.Cpuid;

/// <summary>
/// A vCPU's CPUID table (<c>vcpu->arch.cpuid_entries</c>): an ordered list of entries compared by content.
/// Order matters: KVM's lookup takes the first match.
/// </summary>
/// <remarks>
/// Persistent: a version is an immutable base array, shared by every version derived from it, plus at most
/// <see cref="MaxPatches"/> patched entries, each the four output registers of one base entry. A runtime update rewrites
/// outputs of the same four leaves again and again, so <see cref="WithOutputs"/>, <see cref="SetItem"/> and
/// <see cref="SetItems"/> copy only the small patch list, never the whole table (about 1.4 KB on Skylake-SP). A patch
/// holds outputs only, so an entry's key (function, index, flags) is always its base entry's and lookups scan the
/// base alone; a write that changes a key, or one patch too many, makes a new base. Equality is by content whatever the
/// representation; versions of one base compare only their patched positions. Each base also records where the
/// first entry of each basic (0–0x1F) and extended (0x8000_0000–0x8000_001F) function sits, so a lookup of such a
/// function starts its ordered scan there rather than at entry 0 (no earlier entry can match).
/// </remarks>
public sealed class CpuidTable : IEquatable<CpuidTable>
{
    /// <summary><c>KVM_MAX_CPUID_ENTRIES</c>: KVM_SET_CPUID2 with more entries fails with E2BIG.</summary>
    public const int MaxEntries = 256;

    /// <summary>Patched entries a version keeps beside its base before a write makes a new base.</summary>
    internal const int MaxPatches = 8;

    private static readonly Patch[] NoPatches = [];

    // Functions with a recorded first position: 0..31 and 0x8000_0000..0x8000_001F.
    private const int RangeLength = 32;

    // The base entries, shared between versions (never written).
    private readonly ImmutableArray<CpuidEntry> entries;

    // The outputs of patched entries, sorted by position (never written); a patched entry's key is its base entry's.
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
    public CpuidEntry this[int position] =>
        PatchIndex(patches, position) is var k and >= 0 ? patches[k].Over(entries.ItemRef(position)) : entries[position];

    /// <summary>One output register of the entry at a position, read without copying the entry.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public uint Output(int position, CpuidRegister register) =>
        PatchIndex(patches, position) is var k and >= 0 ? patches[k].Get(register) : entries.ItemRef(position).Get(register);

    /// <summary>
    /// Position of the first entry matching (function, index) by KVM's rule, or -1
    /// (<c>kvm_find_cpuid_entry_index</c>). Patched entries keep their base entries' keys, so the base alone is scanned.
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
    /// The table with several positions replaced at once (negative positions are skipped, a later update of a position
    /// wins); the same instance when nothing changes. While every replaced entry keeps its key and the changed entries
    /// fit beside the patches, only the patch list is copied.
    /// </summary>
    public CpuidTable SetItems(ReadOnlySpan<(int Position, CpuidEntry Entry)> updates)
    {
        var keysKept = true;
        foreach (ref readonly var update in updates)
        {
            keysKept &= update.Position < 0 || SameKey(entries.ItemRef(update.Position), update.Entry);
        }
        if (!keysKept)
        {
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
        // Every key kept: the last update of each position, as writes of the outputs it changes.
        var writes = updates.Length <= MaxPatches ? stackalloc OutputWrite[4 * MaxPatches] : new OutputWrite[4 * updates.Length];
        var count = 0;
        for (var i = 0; i < updates.Length; i++)
        {
            var (position, entry) = updates[i];
            if (position < 0 || UpdatedLater(updates[(i + 1)..], position))
            {
                continue;
            }
            foreach (var register in OutputRegisters)
            {
                if (entry.Get(register) != Output(position, register))
                {
                    writes[count++] = new(position, register, entry.Get(register));
                }
            }
        }
        return WithOutputs(writes[..count]);
    }

    private static readonly CpuidRegister[] OutputRegisters = [CpuidRegister.Eax, CpuidRegister.Ebx, CpuidRegister.Ecx, CpuidRegister.Edx];

    private static bool UpdatedLater(ReadOnlySpan<(int Position, CpuidEntry Entry)> later, int position)
    {
        foreach (ref readonly var update in later)
        {
            if (update.Position == position)
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>
    /// The table with output registers set, the writes applied in order (a later write of a register wins); the same
    /// instance when no output changes. Keys never change, so while the written entries fit beside the patches only the
    /// patch list is copied, with a patch for each entry written (pass only writes that change something, as
    /// <see cref="SetItems"/> and <see cref="Dynamic.DynamicBits.Materialize(Model.Vm, Dynamic.DynamicInputs, CpuidTable, State.DynamicCaps, Model.KvmRules)"/> do, and each patch is a change). A
    /// register other than EAX–EDX is refused (<see cref="ArgumentOutOfRangeException"/>).
    /// </summary>
    /// <remarks>
    /// Performance: <see cref="Dynamic.DynamicBits.Materialize(Model.Vm, Dynamic.DynamicInputs, CpuidTable, State.DynamicCaps, Model.KvmRules)"/> writes registers, not entries. Building whole 32-byte
    /// entries with one register changed and copying them on (into an edit list, a patch list, the new array) cost an
    /// update more than the rest of it: each copy read back a value just written in 4-byte pieces, which the CPU cannot
    /// forward from its stores (docs/benchmarks.md, round 11).
    /// </remarks>
    public CpuidTable WithOutputs(ReadOnlySpan<OutputWrite> writes)
    {
        foreach (ref readonly var write in writes)
        {
            CheckRegister(write.Register);
        }
        if (!ChangesAny(writes))
        {
            return this;
        }
        var added = NewPositions(writes);
        var count = patches.Length + added;
        if (count > MaxPatches)
        {
            var copy = Flatten().ToBuilder();
            foreach (ref readonly var write in writes)
            {
                copy[write.Position] = copy[write.Position].With(write.Register, write.Value);
            }
            return ChangedBy(new(copy.MoveToImmutable()), writes);
        }
        // The new patch list is written in place before anything reads it.
        var next = new Patch[count];
        patches.CopyTo(next, 0);
        var n = patches.Length;
        foreach (ref readonly var write in writes)
        {
            var k = PatchIndex(next.AsSpan(0, n), write.Position);
            if (k < 0)
            {
                k = n++;
                next[k] = Patch.Of(write.Position, entries.ItemRef(write.Position));
            }
            next[k].Set(write.Register, write.Value);
        }
        if (added > 0)
        {
            SortByPosition(next); // the old patches are sorted and the new ones at the end
        }
        return ChangedBy(new(entries, next, firstPositions), writes);
    }

    /// <summary>Whether no (position, register) pair is written twice, so no write can undo another.</summary>
    private static bool EachRegisterWrittenOnce(ReadOnlySpan<OutputWrite> writes)
    {
        for (var i = 1; i < writes.Length; i++)
        {
            for (var j = 0; j < i; j++)
            {
                if (writes[j].Position == writes[i].Position && writes[j].Register == writes[i].Register)
                {
                    return false;
                }
            }
        }
        return true;
    }

    /// <summary>
    /// <paramref name="written"/>, or this table if no written position's outputs differ (writes that put back what
    /// an earlier write changed can leave every output as it was). Some write must change its register: then, if no
    /// register is written twice, that one keeps its new value and the table changed, without a look.
    /// </summary>
    private CpuidTable ChangedBy(CpuidTable written, ReadOnlySpan<OutputWrite> writes)
    {
        if (EachRegisterWrittenOnce(writes))
        {
            return written;
        }
        foreach (ref readonly var write in writes)
        {
            if (!written.OutputsAt(write.Position).SameOutputs(OutputsAt(write.Position)))
            {
                return written;
            }
        }
        return this;
    }

    /// <summary>Whether some write gives its register a value other than the one it has.</summary>
    private bool ChangesAny(ReadOnlySpan<OutputWrite> writes)
    {
        foreach (ref readonly var write in writes)
        {
            if (Output(write.Position, write.Register) != write.Value)
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>How many distinct positions the writes touch that have no patch yet.</summary>
    private int NewPositions(ReadOnlySpan<OutputWrite> writes)
    {
        var added = 0;
        for (var i = 0; i < writes.Length; i++)
        {
            var position = writes[i].Position;
            if (PatchIndex(patches, position) < 0 && !WrittenBefore(writes[..i], position))
            {
                added++;
            }
        }
        return added;
    }

    /// <summary>EAX, EBX, ECX or EDX; anything else is refused before a table is built (<see cref="CpuidEntry.Get"/>'s rule).</summary>
    private static void CheckRegister(CpuidRegister register) => _ = default(CpuidEntry).Get(register);

    private static bool WrittenBefore(ReadOnlySpan<OutputWrite> writes, int position)
    {
        foreach (ref readonly var write in writes)
        {
            if (write.Position == position)
            {
                return true;
            }
        }
        return false;
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

    /// <summary>The outputs the entry at a position has now.</summary>
    private Patch OutputsAt(int position) =>
        PatchIndex(patches, position) is var k and >= 0 ? patches[k] : Patch.Of(position, entries.ItemRef(position));

    /// <summary>Where a patch list holds a position, or -1.</summary>
    private static int PatchIndex(ReadOnlySpan<Patch> list, int position)
    {
        for (var k = 0; k < list.Length; k++)
        {
            if (list[k].Position == position)
            {
                return k;
            }
        }
        return -1;
    }

    /// <summary>Sorts a few patches by position (insertion sort: at most <see cref="MaxPatches"/>, nearly sorted).</summary>
    private static void SortByPosition(Span<Patch> list)
    {
        for (var k = 1; k < list.Length; k++)
        {
            var p = list[k];
            var at = k;
            while (at > 0 && list[at - 1].Position > p.Position)
            {
                list[at] = list[at - 1];
                at--;
            }
            list[at] = p;
        }
    }

    /// <summary>Whether two patch lists are equal item by item (the common case: versions updated alike).</summary>
    private static bool SamePatches(ReadOnlySpan<Patch> a, ReadOnlySpan<Patch> b) => a.SequenceEqual(b);

    /// <summary>Whether two tables of one base agree at every position <paramref name="a"/> patches.</summary>
    private static bool PatchedAgree(CpuidTable a, CpuidTable b)
    {
        foreach (ref readonly var p in a.patches.AsSpan())
        {
            if (!p.SameOutputs(b.OutputsAt(p.Position)))
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>A patch may replace an entry only with one of the same key: lookups read keys from the base.</summary>
    private static bool SameKey(in CpuidEntry a, in CpuidEntry b) =>
        a.Function == b.Function && a.Index == b.Index && a.Flags == b.Flags;

    /// <summary>The base with every patch applied, as a new array.</summary>
    private ImmutableArray<CpuidEntry> Flatten()
    {
        var copy = entries.ToBuilder();
        foreach (ref readonly var p in patches.AsSpan())
        {
            copy[p.Position] = p.Over(copy[p.Position]);
        }
        return copy.MoveToImmutable();
    }

    /// <summary>
    /// The four outputs of one patched entry; its key is the base entry's. Mutable only while a list is being built
    /// (<see cref="WithOutputs"/>); a version's own list is never written.
    /// </summary>
    private struct Patch : IEquatable<Patch>
    {
        public int Position;
        public uint Eax;
        public uint Ebx;
        public uint Ecx;
        public uint Edx;

        public static Patch Of(int position, in CpuidEntry entry) =>
            new() { Position = position, Eax = entry.Eax, Ebx = entry.Ebx, Ecx = entry.Ecx, Edx = entry.Edx };

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public readonly uint Get(CpuidRegister register) => register switch
        {
            CpuidRegister.Eax => Eax,
            CpuidRegister.Ebx => Ebx,
            CpuidRegister.Ecx => Ecx,
            CpuidRegister.Edx => Edx,
            _ => throw CpuidEntry.NotAnOutputRegister(register),
        };

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Set(CpuidRegister register, uint value)
        {
            switch (register)
            {
                case CpuidRegister.Eax:
                    Eax = value;
                    break;
                case CpuidRegister.Ebx:
                    Ebx = value;
                    break;
                case CpuidRegister.Ecx:
                    Ecx = value;
                    break;
                case CpuidRegister.Edx:
                    Edx = value;
                    break;
                default:
                    throw CpuidEntry.NotAnOutputRegister(register);
            }
        }

        /// <summary>The entry with <paramref name="key"/>'s function, index and flags and these outputs.</summary>
        public readonly CpuidEntry Over(in CpuidEntry key) => new(key.Function, key.Index, key.Flags, Eax, Ebx, Ecx, Edx);

        public readonly bool SameOutputs(in Patch other) =>
            Eax == other.Eax && Ebx == other.Ebx && Ecx == other.Ecx && Edx == other.Edx;

        public readonly bool Equals(Patch other) => Position == other.Position && SameOutputs(other);

        public override readonly bool Equals(object? obj) => obj is Patch other && Equals(other);

        public override readonly int GetHashCode() => HashCode.Combine(Position, Eax, Ebx, Ecx, Edx);
    }
}
