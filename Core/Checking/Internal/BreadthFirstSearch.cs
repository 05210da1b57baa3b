using System.Collections.Immutable;

namespace CpuidFunctional.Core.Checking.Internal;

/// <summary>
/// A level-synchronous breadth-first search. Each level runs in two phases separated by a barrier:
/// <list type="number">
/// <item>expand: the frontier is cut into contiguous chunks; workers step every state of a chunk through the whole
/// alphabet, check the invariant, drop successors already in the visited set (read-only in this phase) and buffer
/// the rest per chunk and per partition;</item>
/// <item>merge: each of the <see cref="Partitions"/> visited-set partitions is owned by one worker, which adds that
/// partition's buffered successors; the new states are then numbered in (parent, event) order.</item>
/// </list>
/// Nothing is locked and the result does not depend on the number of workers: states get the same ids, the
/// counterexample is the first violating (parent, event) pair in id order, so it is a shortest one, and the
/// transitions of the violating level are counted up to that pair (<see cref="CountedTransitions"/>). Only a
/// cancellation depends on timing: it reports the levels completed before it.
/// </summary>
internal sealed class BreadthFirstSearch<TState, TEvent, TObservation, TSystem>
    where TState : IEquatable<TState>
    where TSystem : IExpansion<TState, TEvent, TObservation>
{
    /// <summary>Fixed (not per-core) so that ids and counterexamples are the same on every machine.</summary>
    private const int Partitions = 64;

    /// <summary>Chunks per level: enough for load balance on any core count, few enough to keep the buffers small.</summary>
    private const int MaxChunks = 64;

    private readonly TSystem system;
    private readonly TEvent[] alphabet;
    private readonly ExplorationOptions options;
    private readonly CancellationToken cancellationToken;
    private readonly int workers;
    private readonly StateSet<TState>[] visited = new StateSet<TState>[Partitions];

    // The search's own working memory (never shared outside this object).
    private TState[] frontier = new TState[16];
    private int frontierCount;
    private readonly ParentLinks links = new();
    private long states;
    private long transitions;
    private GrowableArray<Pending<TState>>[][] buffers = [];
    private readonly GrowableArray<Pending<TState>>[] fresh = new GrowableArray<Pending<TState>>[Partitions];
    private int violatingChunk;
    private (int Parent, int Event, string Message)?[] chunkViolations = [];
    private Pending<TState>[]?[] successorBuffers = []; // by chunk: one state's successors before their lookups
    private Pending<TState>[]?[] previousBuffers = []; // by chunk: the previous state's, looked up while this one's slots arrive
    private int[] touchedSink = []; // by chunk: keeps the model's early reads (StepAll's result) from being optimised away

    public BreadthFirstSearch(TSystem system, ExplorationOptions options, CancellationToken cancellationToken)
    {
        this.system = system;
        alphabet = [.. system.Alphabet];
        this.options = options;
        this.cancellationToken = cancellationToken;
        workers = options.Parallelism > 0 ? options.Parallelism : -1; // -1: let the thread pool use every core
        for (var p = 0; p < Partitions; p++)
        {
            visited[p] = new StateSet<TState>();
            fresh[p] = new GrowableArray<Pending<TState>>();
        }
    }

    private static int Hash(in TState s) => StateSet<TState>.Mix(s.GetHashCode());

    private static int PartitionOf(int hash) => (int)((uint)hash >> 26);

    public ExplorationResult<TState, TEvent, TObservation> Run()
    {
        var clock = options.Clock;
        var start = clock?.GetTimestamp() ?? 0;
        TimeSpan? Elapsed() => clock?.GetElapsedTime(start);

        var initial = system.Initial;
        var h0 = Hash(initial);
        visited[PartitionOf(h0)].Add(initial, h0);
        frontier[0] = initial;
        frontierCount = 1;
        var (initialParent, initialEvent) = links.AddLevel(0, 1);
        initialParent[0] = -1;
        initialEvent[0] = -1;
        states = 1;
        var depth = 0;

        while (frontierCount > 0)
        {
            if (cancellationToken.IsCancellationRequested)
            {
                return Finish(SearchOutcome.Cancelled, depth, Elapsed(), null);
            }
            if (depth >= options.MaxDepth)
            {
                break;
            }
            if (states >= options.MaxStates)
            {
                return Finish(SearchOutcome.StateBoundReached, depth, Elapsed(), null);
            }
            var firstId = (int)(states - frontierCount);
            var (chunks, counts) = Expand(firstId);
            if (cancellationToken.IsCancellationRequested)
            {
                // The level may be unfinished: the figures stay those of the levels completed before it.
                return Finish(SearchOutcome.Cancelled, depth, Elapsed(), null);
            }
            transitions += CountedTransitions(counts, chunks);
            if (violatingChunk < chunks)
            {
                var (parent, e, message) = chunkViolations[violatingChunk]!.Value;
                return Finish(SearchOutcome.Violated, depth, Elapsed(), Trace(parent, e, message));
            }
            Merge(chunks);
            if (frontierCount > 0)
            {
                depth++;
            }
            options.Progress?.Invoke(new ExplorationProgress(depth, states, transitions, frontierCount, Elapsed()));
        }
        return Finish(SearchOutcome.Complete, depth, Elapsed(), null);
    }

    private ExplorationResult<TState, TEvent, TObservation> Finish(
        SearchOutcome outcome,
        int depth,
        TimeSpan? elapsed,
        Counterexample<TState, TEvent, TObservation>? counterexample
    ) => new(outcome, new ExplorationStatistics(states, transitions, depth, elapsed), counterexample);

    /// <summary>
    /// The transitions of one expanded level, counted as a sequential search in (parent, event) order would have
    /// executed them: without a violation, every chunk's; with one, those of the chunks before the violating chunk
    /// (which ran to their end) and of the violating chunk up to and including the violating transition. Chunks after
    /// it stopped wherever their worker happened to be, so they are not counted, and the figure does not depend on
    /// the number of workers or on scheduling.
    /// </summary>
    private long CountedTransitions(long[] counts, int chunks)
    {
        var counted = 0L;
        for (var c = 0; c < chunks && c <= violatingChunk; c++)
        {
            counted += counts[c];
        }
        return counted;
    }

    /// <summary>Phase 1. Returns the number of chunks used and the transitions each chunk executed.</summary>
    private (int Chunks, long[] Counts) Expand(int firstId)
    {
        var chunks = Math.Max(1, Math.Min(frontierCount, MaxChunks));
        if (buffers.Length < chunks)
        {
            var grown = new GrowableArray<Pending<TState>>[chunks][];
            Array.Copy(buffers, grown, buffers.Length);
            for (var c = buffers.Length; c < chunks; c++)
            {
                grown[c] = new GrowableArray<Pending<TState>>[Partitions];
                for (var p = 0; p < Partitions; p++)
                {
                    grown[c][p] = new GrowableArray<Pending<TState>>();
                }
            }
            buffers = grown;
            chunkViolations = new (int, int, string)?[chunks];
            Array.Resize(ref successorBuffers, chunks);
            Array.Resize(ref previousBuffers, chunks);
            touchedSink = new int[chunks];
        }
        violatingChunk = int.MaxValue;
        var counts = new long[chunks];
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = workers };
        Parallel.For(0, chunks, parallel, c => counts[c] = ExpandChunk(c, chunks, firstId));
        return (chunks, counts);
    }

    private long ExpandChunk(int chunk, int chunks, int firstId)
    {
        var local = buffers[chunk];
        foreach (var b in local)
        {
            b.Clear();
        }
        chunkViolations[chunk] = null;
        var successors = successorBuffers[chunk] ??= new Pending<TState>[alphabet.Length];
        var previous = previousBuffers[chunk] ??= new Pending<TState>[alphabet.Length];
        var previousCount = 0;
        var from = (int)((long)frontierCount * chunk / chunks);
        var to = (int)((long)frontierCount * (chunk + 1) / chunks);
        var count = 0L;
        var touched = 0;
        for (var i = from; i < to; i++)
        {
            if (Volatile.Read(ref violatingChunk) < chunk || cancellationToken.IsCancellationRequested)
            {
                return count;
            }
            ref readonly var s = ref frontier[i];
            var visitor = new StateVisitor(this, successors, s, firstId + i, chunk);
            touched ^= system.StepAll(in s, ref visitor);
            count += visitor.Transitions;
            if (visitor.Violated)
            {
                int seen;
                while ((seen = Volatile.Read(ref violatingChunk)) > chunk && Interlocked.CompareExchange(ref violatingChunk, chunk, seen) != seen) { }
                return count;
            }
            // Software pipelining: prefetch this state's successors' first slots, then look up the previous state's,
            // whose slots were prefetched one state ago. The cache misses overlap the work in between instead of
            // stalling each lookup (on the yardstick about 12 % of its time).
            var n = visitor.Successors;
            for (var k = 0; k < n; k++)
            {
                var hash = successors[k].Hash;
                visited[PartitionOf(hash)].Prefetch(hash);
            }
            KeepUnvisited(local, previous, previousCount);
            (successors, previous) = (previous, successors);
            previousCount = n;
        }
        KeepUnvisited(local, previous, previousCount);
        touchedSink[chunk] = touched;
        return count;
    }

    /// <summary>Buffers, per partition and in (parent, event) order, the successors the visited set does not hold.</summary>
    private void KeepUnvisited(GrowableArray<Pending<TState>>[] local, Pending<TState>[] successors, int n)
    {
        for (var k = 0; k < n; k++)
        {
            ref readonly var pending = ref successors[k];
            var partition = PartitionOf(pending.Hash);
            if (!visited[partition].Contains(pending.State, pending.Hash))
            {
                local[partition].Add(pending);
            }
        }
    }

    /// <summary>
    /// One frontier state's expansion, as the model hands over its enabled events: each is a transition, checked
    /// against the invariant (a violation stops the state's expansion and is recorded for its chunk), and each
    /// successor other than the state itself is kept for the visited-set lookups.
    /// </summary>
    private ref struct StateVisitor(BreadthFirstSearch<TState, TEvent, TObservation, TSystem> search, Pending<TState>[] successors, TState state, int id, int chunk)
        : ISuccessorVisitor<TState, TObservation>
    {
        public readonly TState State = state;

        public long Transitions;

        public int Successors;

        public bool Violated;

        public bool Visit(int e, in TState next, in TObservation observation)
        {
            Transitions++;
            if (search.system.Violation(in next, in observation) is { } message)
            {
                search.chunkViolations[chunk] = (id, e, message);
                Violated = true;
                return false;
            }
            if (!next.Equals(State)) // a self-loop leads to a known state
            {
                successors[Successors++] = new Pending<TState>(next, Hash(next), id, e);
            }
            return true;
        }
    }

    /// <summary>Phase 2: deduplicate per partition, then number the new states partition by partition.</summary>
    private void Merge(int chunks)
    {
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = workers };
        Parallel.For(
            0,
            Partitions,
            parallel,
            p =>
            {
                var set = visited[p];
                var output = fresh[p];
                output.Clear();
                for (var c = 0; c < chunks; c++)
                {
                    var buffer = buffers[c][p];
                    for (var k = 0; k < buffer.Count; k++)
                    {
                        ref readonly var pending = ref buffer.Items[k];
                        if (set.Add(pending.State, pending.Hash))
                        {
                            output.Add(pending);
                        }
                    }
                }
            }
        );
        var added = 0;
        for (var p = 0; p < Partitions; p++)
        {
            added += fresh[p].Count;
        }
        var baseId = (int)states;
        var firstParent = baseId - frontierCount;
        if (frontier.Length < added)
        {
            frontier = new TState[Math.Max(added, frontier.Length * 2)];
        }
        var (levelParents, levelEvents) = links.AddLevel(baseId, added);
        // Number the new states in discovery order, (parent, event), as a sequential search would: bucket them by
        // parent (counting sort), then order each parent's few children by event.
        var cursor = new int[frontierCount + 1];
        for (var p = 0; p < Partitions; p++)
        {
            var output = fresh[p];
            for (var k = 0; k < output.Count; k++)
            {
                cursor[output.Items[k].Parent - firstParent + 1]++;
            }
        }
        for (var i = 1; i <= frontierCount; i++)
        {
            cursor[i] += cursor[i - 1];
        }
        var groupStart = (int[])cursor.Clone();
        var next = frontier; // the expanded level is no longer needed: the next one overwrites it
        Parallel.For(
            0,
            Partitions,
            parallel,
            p =>
            {
                var output = fresh[p];
                for (var k = 0; k < output.Count; k++)
                {
                    ref readonly var pending = ref output.Items[k];
                    var slot = Interlocked.Increment(ref cursor[pending.Parent - firstParent]) - 1;
                    next[slot] = pending.State;
                    levelParents[slot] = pending.Parent;
                    levelEvents[slot] = pending.Event;
                }
            }
        );
        Parallel.For(
            0,
            frontierCount,
            parallel,
            i =>
            {
                // insertion sort of one parent's children by event (at most one per alphabet position)
                for (var a = groupStart[i] + 1; a < groupStart[i + 1]; a++)
                {
                    for (var b = a; b > groupStart[i] && levelEvents[b - 1] > levelEvents[b]; b--)
                    {
                        (levelEvents[b - 1], levelEvents[b]) = (levelEvents[b], levelEvents[b - 1]);
                        (next[b - 1], next[b]) = (next[b], next[b - 1]);
                    }
                }
            }
        );
        frontierCount = added;
        states += added;
    }

    /// <summary>Rebuilds the path to a state from the parent links and replays it (Step is pure, so replay is exact).</summary>
    private Counterexample<TState, TEvent, TObservation> Trace(int parent, int lastEvent, string message)
    {
        var path = new List<int> { lastEvent };
        for (var id = parent; id > 0; id = links[id].Parent)
        {
            path.Add(links[id].Event);
        }
        path.Reverse();
        var steps = ImmutableArray.CreateBuilder<TraceStep<TState, TEvent, TObservation>>(path.Count);
        var s = system.Initial;
        foreach (var position in path)
        {
            var e = alphabet[position];
            if (!system.TryStep(in s, e, out var next, out var observation))
            {
                throw new InvalidOperationException($"replay: event {e} is not enabled; the model's TryStep is not pure");
            }
            steps.Add(new TraceStep<TState, TEvent, TObservation>(e, observation, next));
            s = next;
        }
        return new Counterexample<TState, TEvent, TObservation>(system.Initial, steps.MoveToImmutable(), message);
    }
}
