using System.Runtime.CompilerServices;

namespace CpuidFunctional.Core.Checking.Internal;

/// <summary>
/// An open-addressing hash set of states with linear probing. Each slot holds the key and its mixed hash side by
/// side, so a probe touches one cache line and rarely calls <c>Equals</c>. Not thread-safe: the explorer gives each
/// partition one writer per phase and reads it only while nobody writes.
/// </summary>
internal sealed class StateSet<TState>
    where TState : IEquatable<TState>
{
    private Slot[] slots = new Slot[1024];
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

    /// <summary>The hash stored in the slot a lookup of <paramref name="hash"/> reads first (a read to bring it into the cache early).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int FirstSlotHash(int hash)
    {
        var table = slots;
        return table[(hash >> 6) & (table.Length - 1)].Hash;
    }

    public bool Contains(in TState key, int hash)
    {
        var table = slots;
        var mask = table.Length - 1;
        var i = (hash >> 6) & mask;
        while (true)
        {
            ref readonly var slot = ref table[i];
            if (slot.Hash == 0)
            {
                return false;
            }
            if (slot.Hash == hash && slot.Key.Equals(key))
            {
                return true;
            }
            i = (i + 1) & mask;
        }
    }

    /// <summary>Adds a key; false if it was already present.</summary>
    public bool Add(in TState key, int hash)
    {
        if ((count + 1) * 2 > slots.Length)
        {
            Grow();
        }
        var table = slots;
        var mask = table.Length - 1;
        var i = (hash >> 6) & mask;
        while (true)
        {
            ref var slot = ref table[i];
            if (slot.Hash == 0)
            {
                slot = new Slot(hash, key);
                count++;
                return true;
            }
            if (slot.Hash == hash && slot.Key.Equals(key))
            {
                return false;
            }
            i = (i + 1) & mask;
        }
    }

    private void Grow()
    {
        var old = slots;
        var table = new Slot[old.Length * 2];
        var mask = table.Length - 1;
        foreach (var slot in old)
        {
            if (slot.Hash == 0)
            {
                continue;
            }
            var i = (slot.Hash >> 6) & mask;
            while (table[i].Hash != 0)
            {
                i = (i + 1) & mask;
            }
            table[i] = slot;
        }
        slots = table;
    }

    /// <summary>One slot: hash 0 means empty.</summary>
    private readonly record struct Slot(int Hash, TState Key);
}
