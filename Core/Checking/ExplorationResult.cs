namespace CpuidFunctional.Core.Checking;

/// <summary>What a search found.</summary>
/// <typeparam name="TState">The state type.</typeparam>
/// <typeparam name="TEvent">The event type.</typeparam>
/// <typeparam name="TObservation">The observation type.</typeparam>
/// <param name="Outcome">How it ended.</param>
/// <param name="Statistics">States, transitions, depth and speed (up to the point it ended).</param>
/// <param name="Counterexample">The shortest violating trace, when <paramref name="Outcome"/> is <see cref="SearchOutcome.Violated"/>.</param>
public sealed record ExplorationResult<TState, TEvent, TObservation>(
    SearchOutcome Outcome,
    ExplorationStatistics Statistics,
    Counterexample<TState, TEvent, TObservation>? Counterexample
)
{
    /// <summary>Whether the invariant held on everything explored.</summary>
    public bool Holds => Outcome != SearchOutcome.Violated;

    /// <inheritdoc/>
    public override string ToString() =>
        Outcome == SearchOutcome.Violated ? $"{Outcome}: {Statistics}\n{Counterexample}" : $"{Outcome}: {Statistics}";
}
