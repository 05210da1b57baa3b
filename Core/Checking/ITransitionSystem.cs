namespace CpuidFunctional.Core.Checking;

/// <summary>
/// What a model checker needs from a model: an initial state, a finite event alphabet, a pure step function and an
/// invariant over what a step lets the outside world see. States must be value-equal and hashable (the visited set
/// is keyed by them); implementations must not mutate anything, because the explorer calls them from several
/// threads at once.
/// </summary>
/// <typeparam name="TState">A state, compared by value.</typeparam>
/// <typeparam name="TEvent">An event of the alphabet.</typeparam>
/// <typeparam name="TObservation">What one step makes visible (the input of the invariant).</typeparam>
public interface ITransitionSystem<TState, TEvent, TObservation>
    where TState : IEquatable<TState>
{
    /// <summary>The state the search starts from.</summary>
    TState Initial { get; }

    /// <summary>Every event the search tries in every state, in the order it tries them.</summary>
    IReadOnlyList<TEvent> Alphabet { get; }

    /// <summary>Applies one event. False when the event is not enabled in this state (no transition).</summary>
    /// <param name="state">The state before.</param>
    /// <param name="e">The event.</param>
    /// <param name="next">The state after (undefined when false is returned).</param>
    /// <param name="observation">What the step made visible.</param>
    bool TryStep(in TState state, TEvent e, out TState next, out TObservation observation);

    /// <summary>The invariant, checked on every transition: null when it holds, otherwise why it does not.</summary>
    /// <param name="next">The state after the step.</param>
    /// <param name="observation">What the step made visible.</param>
    string? Violation(in TState next, in TObservation observation);
}
