namespace CpuidFunctional.Core.Checking;

/// <summary>Builds an <see cref="ITransitionSystem{TState, TEvent, TObservation}"/> from plain functions.</summary>
public static class TransitionSystem
{
    /// <summary>A model from an initial state, an alphabet, a step and an invariant (null when it holds).</summary>
    public static ITransitionSystem<TState, TEvent, TObservation> From<TState, TEvent, TObservation>(
        TState initial,
        IReadOnlyList<TEvent> alphabet,
        StepFunction<TState, TEvent, TObservation> step,
        Func<TState, TObservation, string?> invariant
    )
        where TState : IEquatable<TState> => new FunctionSystem<TState, TEvent, TObservation>(initial, alphabet, step, invariant);

    private sealed class FunctionSystem<TState, TEvent, TObservation>(
        TState initial,
        IReadOnlyList<TEvent> alphabet,
        StepFunction<TState, TEvent, TObservation> step,
        Func<TState, TObservation, string?> invariant
    ) : ITransitionSystem<TState, TEvent, TObservation>
        where TState : IEquatable<TState>
    {
        public TState Initial => initial;

        public IReadOnlyList<TEvent> Alphabet => alphabet;

        public bool TryStep(in TState state, TEvent e, out TState next, out TObservation observation)
        {
            if (step(state, e) is { } t)
            {
                (next, observation) = t;
                return true;
            }
            next = state;
            observation = default!;
            return false;
        }

        public string? Violation(in TState next, in TObservation observation) => invariant(next, observation);
    }
}
