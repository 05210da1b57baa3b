using System.Collections.Concurrent;
using CpuidFunctional.Core.Model;
using CpuidFunctional.Core.State;

namespace CpuidFunctional.Core.Checking.Internal;

/// <summary>
/// One policy's side of a lock-step product, as search working memory: every distinct <see cref="KvmState"/> the
/// search meets gets a small id (interned by value), and <see cref="Kvm.Step"/> runs once per distinct (state, event)
/// pair, its result kept as (next id, observation id). The product's states are tuples of these ids, so a product
/// transition is a few array reads and the visited set compares integers. Owned by one search and dropped with it.
/// </summary>
/// <remarks>
/// Written from several expanding workers at once, without a lock on the read path: a step result is one
/// <see cref="long"/> (0 while unknown) written once with <see cref="Volatile"/>; two workers that compute the same
/// pair compute the same value (Step is pure, and interning maps equal states to one id). A new id is made under a
/// lock, its state and row stored before the id is published.
/// The ids are found through an open-addressing table of <see cref="long"/>s, each a state's mixed hash beside its id,
/// so a lookup reads one flat array and compares a stored state only when the hashes agree (no dictionary nodes to
/// chase, none for the GC to trace). It grows under the lock into a new array, published whole; a reader that
/// missed in an older array retries under the lock.
/// </remarks>
internal sealed class PolicyStates
{
    private const int ChunkBits = 10;
    private const int ChunkSize = 1 << ChunkBits;
    private const int MaxChunks = 1 << 16;

    /// <summary>Flag: disabling MISC_ENABLE_NO_MWAIT now would change no observation of this policy's state.</summary>
    public const byte QuirkDisableUnobservable = 2;

    private readonly Policy policy;
    private readonly VcpuEvent[] alphabet;
    private readonly ObservationIds observations;
    private readonly KvmStateComparer comparer;
    private long[] slots = new long[1024]; // 0: empty; else mixed hash << 32 | id + 1. Replaced whole under the gate.
    private readonly Lock gate = new();

    // Chunked by id, so that growing never moves what other workers read. Written under the gate, before the id is published.
    private readonly KvmState[]?[] states = new KvmState[MaxChunks][];
    private readonly byte[]?[] flags = new byte[MaxChunks][];

    // Step results by (id, event): 0 while unknown, else 1 << 63 | observation id << 32 | next id. Written once each.
    // Null for a lazy policy (see Memoizes).
    private readonly long[]?[]? steps;
    private int count; // ids handed out; changes only under the gate

    public PolicyStates(Policy policy, KvmState initial, VcpuEvent[] alphabet, ObservationIds observations)
    {
        this.policy = policy;
        this.alphabet = alphabet;
        this.observations = observations;
        comparer = new KvmStateComparer(initial.Vcpu.Cpuid);
        steps = Memoizes(policy) ? new long[MaxChunks][] : null;
    }

    /// <summary>
    /// Whether step results are kept. A lazy policy's state carries its stale table, so it has about as many states as
    /// the product and each is expanded once (skylake-sp 6.18: 148,480 of 148,480, against 1,024 for Eager and for
    /// Reference): keeping its results would only fill memory.
    /// </summary>
    private static bool Memoizes(Policy policy) => !policy.IsLazy;

    /// <summary>The state with an id.</summary>
    public KvmState State(int id) => states[id >> ChunkBits]![id & (ChunkSize - 1)];

    /// <summary>The flags (<see cref="QuirkDisableUnobservable"/>) of the state with an id.</summary>
    public byte Flags(int id) => flags[id >> ChunkBits]![id & (ChunkSize - 1)];

    /// <summary>The state's id, made if it is new.</summary>
    public int Intern(KvmState state)
    {
        var hash = StateSet<KvmState>.Mix(comparer.GetHashCode(state));
        var id = Find(Volatile.Read(ref slots), state, hash);
        if (id >= 0)
        {
            return id;
        }
        lock (gate)
        {
            var table = slots;
            id = Find(table, state, hash);
            if (id >= 0)
            {
                return id;
            }
            id = count;
            var chunk = id >> ChunkBits;
            if (chunk == MaxChunks)
            {
                throw new InvalidOperationException($"more than {MaxChunks * ChunkSize} distinct states of policy {policy}");
            }
            if (states[chunk] is null)
            {
                states[chunk] = new KvmState[ChunkSize];
                flags[chunk] = new byte[ChunkSize];
                steps?[chunk] = new long[ChunkSize * alphabet.Length];
            }
            states[chunk]![id & (ChunkSize - 1)] = state;
            flags[chunk]![id & (ChunkSize - 1)] = FlagsOf(state);
            count = id + 1;
            if (count * 2 > table.Length)
            {
                table = Grown(table);
            }
            Volatile.Write(ref table[FreeSlot(table, hash)], Slot(hash, id)); // publishes the id
            Volatile.Write(ref slots, table);
            return id;
        }
    }

    private static long Slot(int hash, int id) => ((long)hash << 32) | (uint)(id + 1);

    private static int StartOf(long[] table, int hash) => (hash >> 6) & (table.Length - 1);

    /// <summary>The id of a state in a slot table, or -1.</summary>
    private int Find(long[] table, KvmState state, int hash)
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
            if ((int)(slot >> 32) == hash && comparer.Equals(State(id), state))
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

    /// <summary>The state after an event of the alphabet (by position) and what it made visible, as ids.</summary>
    public (int Next, int Observation) Step(int id, int e)
    {
        if (steps is null)
        {
            return Compute(id, e);
        }
        var row = steps[id >> ChunkBits]!;
        var at = (id & (ChunkSize - 1)) * alphabet.Length + e;
        var known = Volatile.Read(ref row[at]);
        if (known == 0)
        {
            var (next, observation) = Compute(id, e);
            known = long.MinValue | ((long)observation << 32) | (uint)next;
            Volatile.Write(ref row[at], known);
        }
        return ((int)known, (int)(known >> 32) & int.MaxValue);
    }

    private (int Next, int Observation) Compute(int id, int e)
    {
        var before = State(id);
        var t = Kvm.Step(policy, before, alphabet[e]);
        var next = ReferenceEquals(t.State.Vcpu, before.Vcpu) && ReferenceEquals(t.State.Vm, before.Vm) ? id : Intern(t.State);
        return (next, observations.Intern(t.Observation));
    }

    private static byte FlagsOf(KvmState state) =>
        (byte)(KvmEquivalenceModel.QuirkDisableUnobservable(state) ? QuirkDisableUnobservable : 0);

    /// <summary>
    /// <see cref="KvmState"/> by value, as <see cref="ProductState"/> compares its parts: the same objects first, then
    /// the records. The hash reads the scalar inputs, the marker and EBX of the initial table's 0xD.0 and 0xD.1
    /// positions: every table a search meets is a version of that one, and equal tables have equal entries at every
    /// position, so no lookup scans the table.
    /// </summary>
    private sealed class KvmStateComparer(Cpuid.CpuidTable initial) : IEqualityComparer<KvmState>
    {
        private readonly int d0 = initial.IndexOf(0xD, 0);
        private readonly int d1 = initial.IndexOf(0xD, 1);

        public bool Equals(KvmState a, KvmState b) =>
            (ReferenceEquals(a.Vcpu, b.Vcpu) || a.Vcpu.Equals(b.Vcpu)) && (ReferenceEquals(a.Vm, b.Vm) || a.Vm.Equals(b.Vm));

        public int GetHashCode(KvmState state)
        {
            var (vm, v) = state;
            var table = v.Cpuid;
            return HashCode.Combine(
                HashCode.Combine(v.Cr4, v.Xcr0, v.Xss, v.ApicBase, v.MiscEnable),
                (v.GuestMode ? 1 : 0) | (v.CpuidDynamicBitsDirty ? 2 : 0) | (v.InSmm ? 4 : 0) | ((int)v.Caps << 3),
                vm.DisabledQuirks,
                Ebx(table, d0),
                Ebx(table, d1)
            );
        }

        private static uint Ebx(Cpuid.CpuidTable table, int position) =>
            (uint)position < (uint)table.Count ? table[position].Ebx : 0;
    }
}

/// <summary>Observations interned by value (null is id 0), shared by the policies of one product so equal ids mean equal observations.</summary>
internal sealed class ObservationIds
{
    private readonly ConcurrentDictionary<Observation, int> ids = new();
    private readonly List<Observation> byId = [];
    private readonly Lock gate = new();

    /// <summary>The observation's id, made if it is new.</summary>
    public int Intern(Observation? observation)
    {
        if (observation is null)
        {
            return 0;
        }
        if (ids.TryGetValue(observation, out var id))
        {
            return id;
        }
        lock (gate)
        {
            if (!ids.TryGetValue(observation, out id))
            {
                byId.Add(observation);
                id = byId.Count;
                ids[observation] = id;
            }
            return id;
        }
    }

    /// <summary>The observation with an id (null for 0).</summary>
    public Observation? Get(int id)
    {
        lock (gate)
        {
            return id == 0 ? null : byId[id - 1];
        }
    }
}
