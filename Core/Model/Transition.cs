namespace CpuidFunctional.Core.Model;

/// <summary>
/// Work a step did, for benchmarks: how many times <c>kvm_update_cpuid_runtime</c> ran (or, under Reference, the
/// outputs were recomputed for an observation) and how many <c>xstate_required_size</c> calls that took.
/// </summary>
/// <param name="RuntimeUpdates">Runs of the runtime update.</param>
/// <param name="XstateSizeComputations">Calls of the size computation.</param>
public readonly record struct Effort(int RuntimeUpdates, int XstateSizeComputations)
{
    /// <summary>Sum of two efforts.</summary>
    public static Effort operator +(Effort a, Effort b) =>
        new(a.RuntimeUpdates + b.RuntimeUpdates, a.XstateSizeComputations + b.XstateSizeComputations);

    /// <summary>Sum of two efforts.</summary>
    public static Effort Add(Effort a, Effort b) => a + b;
}

/// <summary>The result of one <see cref="Kvm.Step"/>: the new state, what was observed (or null), and the work done.</summary>
/// <param name="State">The state after the event.</param>
/// <param name="Observation">What the event made visible, or null for an event with no visible result.</param>
/// <param name="Effort">Runtime updates and size computations performed.</param>
public readonly record struct Transition(KvmState State, Observation? Observation, Effort Effort);
