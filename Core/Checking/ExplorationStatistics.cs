using System.Globalization;

namespace CpuidFunctional.Core.Checking;

/// <summary>How much a search did. Except <c>Elapsed</c>, and after a cancellation, every figure is the same on every run and worker count.</summary>
/// <param name="States">Distinct states stored (the initial state included).</param>
/// <param name="Transitions">
/// Enabled (state, event) pairs executed, self-loops and edges to known states included; on a violation, those of
/// the last level only up to and including the violating pair in (parent, event) order, as a sequential search
/// would count them, so the figure does not depend on the number of workers.
/// </param>
/// <param name="Depth">The largest distance from the initial state of any stored state.</param>
/// <param name="Elapsed">Wall-clock time, when a clock was given.</param>
public readonly record struct ExplorationStatistics(long States, long Transitions, int Depth, TimeSpan? Elapsed)
{
    /// <summary>States stored per second of wall-clock time, when a clock was given.</summary>
    public double? StatesPerSecond => Elapsed is { TotalSeconds: > 0 } t ? States / t.TotalSeconds : null;

    /// <inheritdoc/>
    public override string ToString()
    {
        var counts = string.Create(CultureInfo.InvariantCulture, $"{States:N0} states, {Transitions:N0} transitions, depth {Depth}");
        return Elapsed is { } t
            ? counts + string.Create(CultureInfo.InvariantCulture, $", {t.TotalSeconds:F2} s, {StatesPerSecond:N0} states/s")
            : counts;
    }
}
