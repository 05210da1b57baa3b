namespace CpuidFunctional.Core.Checking.Internal;

/// <summary>
/// Values interned by value into dense ids (0, 1, 2, …), for several workers at once: search working memory, owned by
/// one search and dropped with it.
/// </summary>
/// <remarks>
/// The ids are found through an open-addressing table of <see cref="long"/>s, each a value's mixed hash beside its id,
/// so a lookup reads one flat array and compares a stored value only when the hashes agree: no dictionary nodes to
/// chase, none for the GC to trace. Reads take no lock. A new id is made under a lock, its value (and whatever the
/// caller keeps beside it, see <see cref="Intern(T, int, Action{int, T}?)"/>) stored before its slot is written with <see cref="Volatile"/>;
/// the table grows under the lock into a new array, published whole, and a reader that missed in an older array
/// looks again under the lock. Values are stored in fixed chunks, so growing never moves what other workers read.
/// </remarks>
internal sealed class InternTable<T>(IEqualityComparer<T> comparer)
{
    /// <summary>log2 of the ids per chunk.</summary>
    public const int ChunkBits = 10;

    /// <summary>Ids per chunk.</summary>
    public const int ChunkSize = 1 << ChunkBits;

    /// <summary>Chunks at most (so at most MaxChunks × ChunkSize ids).</summary>
    public const int MaxChunks = 1 << 16;

    private readonly T[]?[] values = new T[MaxChunks][];
    private readonly Lock gate = new();
    private long[] slots = new long[1024]; // 0: empty; else mixed hash << 32 | id + 1. Replaced whole under the gate.
    private int count; // ids handed out; changes only under the gate

    /// <summary>The value with an id.</summary>
    public T this[int id] => values[id >> ChunkBits]![id & (ChunkSize - 1)];

    /// <summary>
    /// The value's id, made if it is new; <paramref name="made"/> runs under the lock with a new id before any other
    /// worker can see it (to fill what the caller keeps per id).
    /// </summary>
    public int Intern(T value, Action<int, T>? made = null) => Intern(value, HashOf(value), made);

    /// <summary>The mixed hash <see cref="Intern(T, int, Action{int, T}?)"/> takes.</summary>
    public int HashOf(T value) => StateSet<int>.Mix(comparer.GetHashCode(value!));

    /// <summary>
    /// Reads the slot a lookup of <paramref name="hash"/> reads first, and nothing else, so that its cache miss
    /// overlaps other work (<see cref="PolicyStates.StepAll"/>).
    /// </summary>
    public void TouchFirstSlot(int hash)
    {
        var table = Volatile.Read(ref slots);
        _ = Volatile.Read(ref table[StartOf(table, hash)]);
    }

    /// <summary>The value in the slot a lookup of <paramref name="hash"/> reads first if that slot holds the hash (a likely match), else the default.</summary>
    public T? FirstCandidate(int hash)
    {
        var table = Volatile.Read(ref slots);
        var slot = Volatile.Read(ref table[StartOf(table, hash)]);
        return slot != 0 && (int)(slot >> 32) == hash ? this[(int)slot - 1] : default;
    }

    /// <summary>The value's id, made if it is new, given its <see cref="HashOf"/>.</summary>
    public int Intern(T value, int hash, Action<int, T>? made = null)
    {
        var id = Find(Volatile.Read(ref slots), value, hash);
        if (id >= 0)
        {
            return id;
        }
        lock (gate)
        {
            var table = slots;
            id = Find(table, value, hash);
            if (id >= 0)
            {
                return id;
            }
            id = count;
            var chunk = id >> ChunkBits;
            if (chunk == MaxChunks)
            {
                throw new InvalidOperationException($"more than {MaxChunks * ChunkSize} distinct values of {typeof(T).Name}");
            }
            (values[chunk] ??= new T[ChunkSize])[id & (ChunkSize - 1)] = value;
            made?.Invoke(id, value);
            count = id + 1;
            if (count * 2 > table.Length)
            {
                table = Grown(table);
                table[FreeSlot(table, hash)] = Slot(hash, id);
                Volatile.Write(ref slots, table); // publishes the id with the grown table
                return id;
            }
            // Publishes the id. The slots field is written only when the table grows: every lookup reads it, and a
            // write each time would take its cache line away from the other workers.
            Volatile.Write(ref table[FreeSlot(table, hash)], Slot(hash, id));
            return id;
        }
    }

    private static long Slot(int hash, int id) => ((long)hash << 32) | (uint)(id + 1);

    private static int StartOf(long[] table, int hash) => (hash >> 6) & (table.Length - 1);

    /// <summary>The id of a value in a slot table, or -1.</summary>
    private int Find(long[] table, T value, int hash)
    {
        var mask = table.Length - 1;
        for (var i = StartOf(table, hash); ; i = (i + 1) & mask)
        {
            var slot = Volatile.Read(ref table[i]);
            if (slot == 0)
            {
                return -1;
            }
            var id = (int)slot - 1;
            if ((int)(slot >> 32) == hash && comparer.Equals(this[id], value))
            {
                return id;
            }
        }
    }

    private static int FreeSlot(long[] table, int hash)
    {
        var i = StartOf(table, hash);
        while (table[i] != 0)
        {
            i = (i + 1) & (table.Length - 1);
        }
        return i;
    }

    /// <summary>A table twice the size with the same slots (not yet published).</summary>
    private static long[] Grown(long[] old)
    {
        var table = new long[old.Length * 2];
        foreach (var slot in old)
        {
            if (slot != 0)
            {
                table[FreeSlot(table, (int)(slot >> 32))] = slot;
            }
        }
        return table;
    }
}
