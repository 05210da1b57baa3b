using System.Collections.Immutable;
using System.Runtime.CompilerServices;
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
internal readonly struct MemoizedProduct : ITransitionSystem<IdTuple, int, IdObservation>
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
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryStep(in IdTuple state, int e, out IdTuple next, out IdObservation observation)
    {
        var quirk = true;
        for (var i = 0; i < policies.Length; i++)
        {
            quirk &= (policies[i].Flags(state[i]) & PolicyStates.QuirkDisableUnobservable) != 0;
        }
        if (!KvmEquivalenceModel.Enabled(alphabet[e], policies[0].State(state[0]).Vcpu, quirk))
        {
            next = state;
            observation = default;
            return false;
        }
        var after = state;
        var seen = default(IdTuple);
        var agree = true;
        var first = 0;
        for (var i = 0; i < policies.Length; i++)
        {
            var (to, o) = policies[i].Step(state[i], e);
            after = after.With(i, to);
            seen = seen.With(i, o);
            first = i == 0 ? o : first;
            agree &= o == first;
        }
        next = after;
        observation = new IdObservation(seen, agree);
        return true;
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
