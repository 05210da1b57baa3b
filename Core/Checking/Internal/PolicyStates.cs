using CpuidFunctional.Core.Model;
using CpuidFunctional.Core.State;

namespace CpuidFunctional.Core.Checking.Internal;

/// <summary>
/// One policy's side of a lock-step product, as search working memory: every distinct <see cref="KvmState"/> the
/// search meets gets a small id (interned by value in an <see cref="InternTable{T}"/>), and <see cref="Kvm.Step"/> runs
/// once per distinct (state, event) pair, its result kept as (next id, observation id). The product's states are
/// tuples of these ids, so a product transition is a few array reads and the visited set compares integers. Owned by
/// one search and dropped with it.
/// </summary>
/// <remarks>
/// Written from several expanding workers at once, without a lock on the read path: a step result is one
/// <see cref="long"/> (0 while unknown) written once with <see cref="Volatile"/>; two workers that compute the same
/// pair compute the same value (Step is pure, and interning maps equal states to one id). A new id's flags and row are
/// stored before the id is published.
/// </remarks>
internal sealed class PolicyStates
{
    private const int ChunkBits = InternTable<KvmState>.ChunkBits;
    private const int ChunkSize = InternTable<KvmState>.ChunkSize;

    /// <summary>Flag: disabling MISC_ENABLE_NO_MWAIT now would change no observation of this policy's state.</summary>
    public const byte QuirkDisableUnobservable = 2;

    private readonly VcpuEvent[] alphabet;
    private readonly Policy policy;
    private readonly ObservationIds observations;
    private readonly InternTable<KvmState> states;
    private readonly Action<int, KvmState> made;

    // Chunked by id like the states, so that growing never moves what other workers read. Written before the id is published.
    private readonly byte[]?[] flags = new byte[InternTable<KvmState>.MaxChunks][];

    // Step results by (id, event): 0 while unknown, else 1 << 63 | observation id << 32 | next id. Written once each.
    // Null for a lazy policy (see Memoizes).
    private readonly long[]?[]? steps;

    public PolicyStates(Policy policy, KvmState initial, VcpuEvent[] alphabet, ObservationIds observations)
    {
        this.policy = policy;
        this.alphabet = alphabet;
        this.observations = observations;
        states = new(new KvmStateComparer(initial.Vcpu.Cpuid));
        steps = Memoizes(policy) ? new long[flags.Length][] : null;
        made = Made;
    }

    /// <summary>
    /// Whether step results are kept. A lazy policy's state carries its stale table, so it has about as many states as
    /// the product and each is expanded once (skylake-sp 6.18: 148,480 of 148,480, against 1,024 for Eager and for
    /// Reference): keeping its results would only fill memory.
    /// </summary>
    private static bool Memoizes(Policy policy) => !policy.IsLazy;

    /// <summary>The state with an id.</summary>
    public KvmState State(int id) => states[id];

    /// <summary>The flags (<see cref="QuirkDisableUnobservable"/>) of the state with an id.</summary>
    public byte Flags(int id) => flags[id >> ChunkBits]![id & (ChunkSize - 1)];

    /// <summary>The state's id, made if it is new.</summary>
    public int Intern(KvmState state) => states.Intern(state, made);

    /// <summary>Stores a new id's flags and makes its step row (under the table's lock, before the id is published).</summary>
    private void Made(int id, KvmState state)
    {
        var chunk = id >> ChunkBits;
        flags[chunk] ??= new byte[ChunkSize];
        if (steps is not null)
        {
            steps[chunk] ??= new long[ChunkSize * alphabet.Length];
        }
        flags[chunk]![id & (ChunkSize - 1)] = FlagsOf(state);
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

    /// <summary>
    /// <see cref="Step"/> for every enabled event of the alphabet at once (<paramref name="next"/> and
    /// <paramref name="observation"/> are written at the enabled positions only).
    /// </summary>
    /// <returns>A value folded from the early reads, for the caller to keep (<see cref="IExpansion{TState, TEvent, TObservation}.StepAll"/>).</returns>
    /// <remarks>
    /// A lazy policy's successors are mostly states it met before, each found through a cache miss on the intern
    /// table's slot and another on the stored state. So a lazy policy steps every event first and reads each
    /// successor's first slot, then reads the state those slots name, and only then interns: the misses of one
    /// state's successors overlap instead of following one another. A memoized policy's results are single reads.
    /// </remarks>
    public int StepAll(int id, ReadOnlySpan<bool> enabled, Span<int> next, Span<int> observation)
    {
        if (steps is not null || alphabet.Length > AlphabetStates.Length)
        {
            for (var e = 0; e < alphabet.Length; e++)
            {
                if (enabled[e])
                {
                    (next[e], observation[e]) = Step(id, e);
                }
            }
            return 0;
        }
        var before = State(id);
        var after = new AlphabetStates();
        Span<int> hashes = stackalloc int[alphabet.Length]; // 0: no state to intern (a mixed hash is never 0)
        for (var e = 0; e < alphabet.Length; e++)
        {
            hashes[e] = 0;
            if (!enabled[e])
            {
                continue;
            }
            var t = Kvm.Step(policy, before, alphabet[e]);
            observation[e] = observations.Intern(t.Observation);
            if (IsUnchanged(before, t.State))
            {
                next[e] = id;
                continue;
            }
            after[e] = t.State;
            hashes[e] = states.HashOf(t.State);
            states.TouchFirstSlot(hashes[e]);
        }
        var touched = 0ul;
        for (var e = 0; e < alphabet.Length; e++)
        {
            if (hashes[e] != 0 && states.FirstCandidate(hashes[e]).Vcpu is { } candidate)
            {
                touched ^= candidate.Cr4;
            }
        }
        for (var e = 0; e < alphabet.Length; e++)
        {
            if (hashes[e] != 0)
            {
                next[e] = states.Intern(after[e], hashes[e], made);
            }
        }
        return (int)touched;
    }

    /// <summary>One state per event of an alphabet of up to 64, on the stack (genoa's has 44).</summary>
    [System.Runtime.CompilerServices.InlineArray(Length)]
    private struct AlphabetStates
    {
        public const int Length = 64;

        private KvmState first;
    }

    private (int Next, int Observation) Compute(int id, int e)
    {
        var before = State(id);
        var t = Kvm.Step(policy, before, alphabet[e]);
        var next = IsUnchanged(before, t.State) ? id : Intern(t.State);
        return (next, observations.Intern(t.Observation));
    }

    /// <summary>Whether a step returned its state's own objects (Kvm.Step returns the same snapshot when nothing changed), so the state keeps its id.</summary>
    private static bool IsUnchanged(KvmState before, KvmState after) =>
        ReferenceEquals(after.Vcpu, before.Vcpu) && ReferenceEquals(after.Vm, before.Vm);

    private static byte FlagsOf(KvmState state) =>
        (byte)(KvmEquivalenceModel.QuirkDisableUnobservable(state) ? QuirkDisableUnobservable : 0);

    /// <summary>
    /// <see cref="KvmState"/> by value, as <see cref="ProductState"/> compares its parts: the same objects first, then
    /// the records. The hash reads the scalar inputs, the marker and EBX of the initial table's 0xD.0 and 0xD.1
    /// positions (<see cref="DynamicPositions"/>), so no lookup scans the table.
    /// </summary>
    private sealed class KvmStateComparer(Cpuid.CpuidTable initial) : IEqualityComparer<KvmState>
    {
        private readonly DynamicPositions at = new(initial);

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
                DynamicPositions.Entry(table, at.D0).Ebx,
                DynamicPositions.Entry(table, at.D1).Ebx
            );
        }
    }
}

/// <summary>
/// Where the dynamic leaves (1, 7.0, 0xD.0, 0xD.1) sit in a search's initial table. Every table a search meets is a
/// version of that one, and equal tables have equal entries at every position, so a hash may read just these
/// positions instead of every entry: the entries a runtime update rewrites are the ones that tell versions apart.
/// </summary>
internal sealed class DynamicPositions(Cpuid.CpuidTable initial)
{
    private readonly int leaf1 = initial.IndexOfFunction(1);
    private readonly int leaf7 = initial.IndexOf(7, 0);

    /// <summary>The position of 0xD.0, or -1.</summary>
    public int D0 { get; } = initial.IndexOf(0xD, 0);

    /// <summary>The position of 0xD.1, or -1.</summary>
    public int D1 { get; } = initial.IndexOf(0xD, 1);

    /// <summary>The entry at a position, or the empty entry where the table has none.</summary>
    public static Cpuid.CpuidEntry Entry(Cpuid.CpuidTable table, int position) =>
        (uint)position < (uint)table.Count ? table[position] : default;

    /// <summary>A hash of a table consistent with its value equality: its length and its entries at the dynamic positions.</summary>
    public int TableHash(Cpuid.CpuidTable table) =>
        HashCode.Combine(table.Count, Entry(table, leaf1), Entry(table, leaf7), Entry(table, D0), Entry(table, D1));
}

/// <summary>
/// Observations interned by value (null is id 0), shared by the policies of one product so equal ids mean equal
/// observations. A KVM_GET_CPUID2 observation is hashed by its table's dynamic positions (<see cref="DynamicPositions"/>),
/// not by every entry: hashing whole tables was a twentieth of a check's time.
/// </summary>
internal sealed class ObservationIds(Cpuid.CpuidTable initial)
{
    private readonly InternTable<Observation> ids = new(new ObservationComparer(new DynamicPositions(initial)));

    /// <summary>The observation's id, made if it is new.</summary>
    public int Intern(Observation? observation) => observation is null ? 0 : ids.Intern(observation) + 1;

    /// <summary>The observation with an id (null for 0).</summary>
    public Observation? Get(int id) => id == 0 ? null : ids[id - 1];

    private sealed class ObservationComparer(DynamicPositions at) : IEqualityComparer<Observation>
    {
        public bool Equals(Observation? a, Observation? b) => EqualityComparer<Observation>.Default.Equals(a, b);

        public int GetHashCode(Observation o) => o is Observation.Cpuid2 got ? at.TableHash(got.Table) : o.GetHashCode();
    }
}
