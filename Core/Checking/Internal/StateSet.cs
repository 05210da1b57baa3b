using System.Runtime.CompilerServices;

namespace CpuidFunctional.Core.Checking.Internal;

/// <summary>
/// An open-addressing hash set of states with linear probing, in one of two slot layouts chosen by the state type:
/// <list type="bullet">
/// <item><b>key only</b> (<see cref="KeySlot"/>), for a state without references (the yardstick's 32-bit state, the
/// product checker's id tuple): equality and the hash are a few integer operations, so the slot need not cache the
/// hash, and the table is half (yardstick) or two thirds (product) the size. The default state marks an empty slot,
/// so the set keeps that one state in a flag;</item>
/// <item><b>hash and key</b> (<see cref="HashedSlot"/>), for any other state (a user's model): the mixed hash beside
/// the key, so a probe rarely calls <c>Equals</c> and growing never calls <c>GetHashCode</c>.</item>
/// </list>
/// One probe and one growth serve both. Every <c>hash</c> argument is <c>Mix(key.GetHashCode())</c>: the key-only layout
/// computes it again when the table grows. Not thread-safe: the explorer gives each partition one writer per phase and
/// reads it only while nobody writes.
/// </summary>
internal sealed class StateSet<TState>
    where TState : IEquatable<TState>
{
    /// <summary>Whether slots hold the key alone (a constant for each value-type state once the JIT has it).</summary>
    private static readonly bool KeysOnly = !RuntimeHelpers.IsReferenceOrContainsReferences<TState>();

    private const int InitialSlots = 1024;

    private KeySlot[] keySlots = KeysOnly ? new KeySlot[InitialSlots] : [];
    private HashedSlot[] hashedSlots = KeysOnly ? [] : new HashedSlot[InitialSlots];
    private bool holdsDefault; // key-only layout: the default state, which cannot sit in a slot
    private int count;

    public int Count => count;

    /// <summary>Mixes a hash code so that the low bits pick slots and the high bits pick partitions (murmur3 fmix32); never 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Mix(int h)
    {
        var x = (uint)h;
        x ^= x >> 16;
        x *= 0x85EB_CA6B;
        x ^= x >> 13;
        x *= 0xC2B2_AE35;
        x ^= x >> 16;
        return (int)(x | 1);
    }

    /// <summary>Asks the processor to bring the slot a lookup of <paramref name="hash"/> reads first into the cache, without waiting for it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Prefetch(int hash)
    {
        if (KeysOnly)
        {
            CacheHint.Prefetch(in FirstSlot(keySlots, hash));
        }
        else
        {
            CacheHint.Prefetch(in FirstSlot(hashedSlots, hash));
        }
    }

    public bool Contains(in TState key, int hash) =>
        KeysOnly ? (IsDefault(key) ? holdsDefault : Probe(keySlots, key, hash) >= 0) : Probe(hashedSlots, key, hash) >= 0;

    /// <summary>Adds a key; false if it was already present.</summary>
    public bool Add(in TState key, int hash)
    {
        if (KeysOnly && IsDefault(key))
        {
            if (holdsDefault)
            {
                return false;
            }
            holdsDefault = true;
            count++;
            return true;
        }
        return KeysOnly ? Add(ref keySlots, key, hash) : Add(ref hashedSlots, key, hash);
    }

    private static bool IsDefault(in TState key) => key.Equals(default);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ref readonly TSlot FirstSlot<TSlot>(TSlot[] table, int hash) => ref table[(hash >> 6) & (table.Length - 1)];

    /// <summary>The index of the slot holding <paramref name="key"/>, or the complement of the empty slot where it would go.</summary>
    private static int Probe<TSlot>(TSlot[] table, in TState key, int hash)
        where TSlot : struct, ISlot<TSlot>
    {
        var mask = table.Length - 1;
        var i = (hash >> 6) & mask;
        while (true)
        {
            ref readonly var slot = ref table[i];
            if (slot.IsEmpty)
            {
                return ~i;
            }
            if (slot.Holds(key, hash))
            {
                return i;
            }
            i = (i + 1) & mask;
        }
    }

    private bool Add<TSlot>(ref TSlot[] table, in TState key, int hash)
        where TSlot : struct, ISlot<TSlot>
    {
        if ((count + 1) * 2 > table.Length)
        {
            table = Grown(table);
        }
        var at = Probe(table, key, hash);
        if (at >= 0)
        {
            return false;
        }
        table[~at] = TSlot.Of(key, hash);
        count++;
        return true;
    }

    /// <summary>A table twice the size holding the same keys.</summary>
    private static TSlot[] Grown<TSlot>(TSlot[] old)
        where TSlot : struct, ISlot<TSlot>
    {
        var table = new TSlot[old.Length * 2];
        var mask = table.Length - 1;
        foreach (var slot in old)
        {
            if (slot.IsEmpty)
            {
                continue;
            }
            var i = (slot.Hash >> 6) & mask;
            while (!table[i].IsEmpty)
            {
                i = (i + 1) & mask;
            }
            table[i] = slot;
        }
        return table;
    }

    /// <summary>A slot of one layout. The empty slot is the default value.</summary>
    private interface ISlot<TSlot>
        where TSlot : struct, ISlot<TSlot>
    {
        static abstract TSlot Of(in TState key, int hash);

        bool IsEmpty { get; }

        /// <summary>The key's mixed hash (growing re-places slots by it).</summary>
        int Hash { get; }

        bool Holds(in TState key, int hash);
    }

    /// <summary>The key alone; the default key means empty (the set keeps that state apart).</summary>
    private readonly record struct KeySlot(TState Key) : ISlot<KeySlot>
    {
        public static KeySlot Of(in TState key, int hash) => new(key);

        public bool IsEmpty => IsDefault(Key);

        public int Hash => Mix(Key.GetHashCode());

        public bool Holds(in TState key, int hash) => Key.Equals(key);
    }

    /// <summary>The mixed hash and the key; hash 0 (which <see cref="Mix"/> never returns) means empty.</summary>
    private readonly record struct HashedSlot(int Hash, TState Key) : ISlot<HashedSlot>
    {
        public static HashedSlot Of(in TState key, int hash) => new(hash, key);

        public bool IsEmpty => Hash == 0;

        public bool Holds(in TState key, int hash) => Hash == hash && Key.Equals(key);
    }
}
