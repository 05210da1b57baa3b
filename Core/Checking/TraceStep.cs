namespace CpuidFunctional.Core.Checking;

/// <summary>One step of a trace: the event, what it made visible, and the state it led to.</summary>
/// <typeparam name="TState">The state type.</typeparam>
/// <typeparam name="TEvent">The event type.</typeparam>
/// <typeparam name="TObservation">The observation type.</typeparam>
/// <param name="Event">The event applied.</param>
/// <param name="Observation">What it made visible.</param>
/// <param name="State">The state after it.</param>
public readonly record struct TraceStep<TState, TEvent, TObservation>(TEvent Event, TObservation Observation, TState State);
