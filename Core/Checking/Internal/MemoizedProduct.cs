using System.Collections.Immutable;
using CpuidFunctional.Core.Model;
using CpuidFunctional.Core.State;

namespace CpuidFunctional.Core.Checking.Internal;

/// <summary>
/// Up to <see cref="Max"/> 32-bit ids packed into two <see cref="ulong"/>s: a product state as one
/// <see cref="PolicyStates"/> id per policy, or a product observation as one <see cref="ObservationIds"/> id per
/// policy. Equality is two integer compares and the hash a multiply, with no reference to follow.
/// </summary>
/// <param name="Low">Ids 0 and 1.</param>
/// <param name="High">Ids 2 and 3.</param>
internal readonly record struct IdTuple(ulong Low, ulong High)
{
    /// <summary>The most ids a tuple holds.</summary>
    public const int Max = 4;

    /// <summary>The id at a position.</summary>
    public int this[int i] => (int)((i < 2 ? Low : High) >> (32 * (i & 1)));

    /// <summary>The tuple with the id at a position replaced.</summary>
    public IdTuple With(int i, int id)
    {
        var shift = 32 * (i & 1);
        var mask = ~(0xFFFF_FFFFul << shift);
        var bits = (ulong)(uint)id << shift;
        return i < 2 ? new((Low & mask) | bits, High) : new(Low, (High & mask) | bits);
    }

    /// <inheritdoc/>
    public override int GetHashCode() => (int)((((Low * 0x9E37_79B9_7F4A_7C15ul) ^ High) * 0xC2B2_AE3D_27D4_EB4Ful) >> 32);
}

/// <summary>What one product step made visible: each policy's observation id, and whether they are all equal.</summary>
/// <param name="Ids">One <see cref="ObservationIds"/> id per policy.</param>
/// <param name="Agree">Whether every policy saw the same (interning maps equal observations to one id).</param>
internal readonly record struct IdObservation(IdTuple Ids, bool Agree);

/// <summary>
/// <see cref="KvmEquivalenceModel"/> over interned policy states (<see cref="PolicyStates"/>): the same states, events,
/// enabled set and invariant, so a search over it stores the same states in the same order and finds the same
/// counterexample, with events as alphabet positions. A struct, so that <see cref="Explorer"/> is specialised for it.
/// </summary>
internal readonly struct MemoizedProduct : IExpansion<IdTuple, int, IdObservation>
{
    private readonly KvmEquivalenceModel model;
    private readonly VcpuEvent[] alphabet;
    private readonly ImmutableArray<int> positions;
    private readonly PolicyStates[] policies;
    private readonly ObservationIds observations;

    /// <summary>The memoized product of a model with at most <see cref="IdTuple.Max"/> policies.</summary>
    public MemoizedProduct(KvmEquivalenceModel model)
    {
        this.model = model;
        alphabet = [.. model.Alphabet];
        positions = [.. Enumerable.Range(0, alphabet.Length)];
        var seen = new ObservationIds(model.Initial.Items[0].Vcpu.Cpuid);
        observations = seen;
        var events = alphabet;
        var states = model.Initial.Items;
        policies = [.. model.Configuration.Policies.Select((p, i) => new PolicyStates(p, states[i], events, seen))];
        var initial = default(IdTuple);
        for (var i = 0; i < policies.Length; i++)
        {
            initial = initial.With(i, policies[i].Intern(states[i]));
        }
        Initial = initial;
    }

    /// <inheritdoc/>
    public IdTuple Initial { get; }

    /// <inheritdoc/>
    public IReadOnlyList<int> Alphabet => positions;

    /// <inheritdoc/>
    public bool TryStep(in IdTuple state, int e, out IdTuple next, out IdObservation observation)
    {
        if (!KvmEquivalenceModel.Enabled(alphabet[e], FirstVcpu(state), QuirkDisableUnobservable(state)))
        {
            next = state;
            observation = default;
            return false;
        }
        Span<int> to = stackalloc int[policies.Length];
        Span<int> seen = stackalloc int[policies.Length];
        for (var i = 0; i < policies.Length; i++)
        {
            (to[i], seen[i]) = policies[i].Step(state[i], e);
        }
        (next, observation) = Combine(state, to, seen, stride: 1);
        return true;
    }

    /// <inheritdoc/>
    public int StepAll<TVisitor>(in IdTuple state, ref TVisitor visitor)
        where TVisitor : ISuccessorVisitor<IdTuple, IdObservation>, allows ref struct
    {
        var n = alphabet.Length;
        var (first, quirk) = (FirstVcpu(state), QuirkDisableUnobservable(state));
        Span<bool> enabled = stackalloc bool[n];
        for (var e = 0; e < n; e++)
        {
            enabled[e] = KvmEquivalenceModel.Enabled(alphabet[e], first, quirk);
        }
        // By policy, then by event: policy i's result for event e is at i * n + e.
        Span<int> to = stackalloc int[policies.Length * n];
        Span<int> seen = stackalloc int[policies.Length * n];
        var touched = 0;
        for (var i = 0; i < policies.Length; i++)
        {
            touched ^= policies[i].StepAll(state[i], enabled, to.Slice(i * n, n), seen.Slice(i * n, n));
        }
        for (var e = 0; e < n; e++)
        {
            if (enabled[e])
            {
                var (next, observation) = Combine(state, to[e..], seen[e..], stride: n);
                if (!visitor.Visit(e, in next, in observation))
                {
                    break;
                }
            }
        }
        return touched;
    }

    /// <summary>Whether disabling MISC_ENABLE_NO_MWAIT is unobservable for every policy (<see cref="PolicyStates.QuirkDisableUnobservable"/>).</summary>
    private bool QuirkDisableUnobservable(in IdTuple state)
    {
        var quirk = true;
        for (var i = 0; i < policies.Length; i++)
        {
            quirk &= (policies[i].Flags(state[i]) & PolicyStates.QuirkDisableUnobservable) != 0;
        }
        return quirk;
    }

    /// <summary>The first policy's vCPU, which decides what is enabled (<see cref="KvmEquivalenceModel.Enabled(VcpuEvent, Vcpu, bool)"/>).</summary>
    private Vcpu FirstVcpu(in IdTuple state) => policies[0].State(state[0]).Vcpu;

    /// <summary>The product step from each policy's next id and observation id (policy i's at <c>i * stride</c>).</summary>
    private (IdTuple Next, IdObservation Observation) Combine(IdTuple state, ReadOnlySpan<int> to, ReadOnlySpan<int> seen, int stride)
    {
        var after = state;
        var ids = default(IdTuple);
        var agree = true;
        for (var i = 0; i < policies.Length; i++)
        {
            var o = seen[i * stride];
            after = after.With(i, to[i * stride]);
            ids = ids.With(i, o);
            agree &= o == seen[0];
        }
        return (after, new IdObservation(ids, agree));
    }

    /// <inheritdoc/>
    public string? Violation(in IdTuple next, in IdObservation observation)
    {
        if (observation.Agree)
        {
            return null;
        }
        var seen = new Observation?[policies.Length];
        for (var i = 0; i < seen.Length; i++)
        {
            seen[i] = observations.Get(observation.Ids[i]);
        }
        return model.Violation(default, new ProductObservation(new ValueArray<Observation?>([.. seen])));
    }
}
