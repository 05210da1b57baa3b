namespace CpuidFunctional.Core.Checking;

/// <summary>A step as a delegate: the state after <paramref name="e"/> and what it made visible, or null when <paramref name="e"/> is not enabled.</summary>
/// <typeparam name="TState">The state type.</typeparam>
/// <typeparam name="TEvent">The event type.</typeparam>
/// <typeparam name="TObservation">The observation type.</typeparam>
/// <param name="state">The state before.</param>
/// <param name="e">The event.</param>
public delegate (TState Next, TObservation Observation)? StepFunction<TState, TEvent, TObservation>(TState state, TEvent e);
