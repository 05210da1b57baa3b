namespace CpuidFunctional.Core.Checking;

/// <summary>Where a search is after a completed level.</summary>
/// <param name="Depth">The level just completed (distance from the initial state of the states it added).</param>
/// <param name="States">Distinct states stored so far.</param>
/// <param name="Transitions">Enabled (state, event) pairs executed so far.</param>
/// <param name="Frontier">States waiting to be expanded at the next level.</param>
/// <param name="Elapsed">Time since the start, when a clock was given.</param>
public readonly record struct ExplorationProgress(int Depth, long States, long Transitions, long Frontier, TimeSpan? Elapsed);
