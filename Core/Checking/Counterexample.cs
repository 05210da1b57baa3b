using System.Globalization;
using System.Text;

namespace CpuidFunctional.Core.Checking;

/// <summary>
/// A shortest event sequence from the initial state whose last step breaks the invariant (breadth-first order, so no
/// shorter one exists; among equally short ones, the first in alphabet order).
/// </summary>
/// <typeparam name="TState">The state type.</typeparam>
/// <typeparam name="TEvent">The event type.</typeparam>
/// <typeparam name="TObservation">The observation type.</typeparam>
/// <param name="Initial">The state the trace starts from.</param>
/// <param name="Steps">The steps, in order; the last one breaks the invariant.</param>
/// <param name="Violation">Why the invariant failed.</param>
public sealed record Counterexample<TState, TEvent, TObservation>(
    TState Initial,
    ValueArray<TraceStep<TState, TEvent, TObservation>> Steps,
    string Violation
)
{
    /// <summary>The events alone.</summary>
    public IEnumerable<TEvent> Events => Steps.Select(s => s.Event);

    /// <summary>A numbered event script ending with the violation.</summary>
    public override string ToString()
    {
        var sb = new StringBuilder();
        for (var i = 0; i < Steps.Count; i++)
        {
            sb.Append(CultureInfo.InvariantCulture, $"{i + 1,3}. {Steps[i].Event}");
            var seen = Steps[i].Observation?.ToString();
            if (!string.IsNullOrEmpty(seen))
            {
                sb.Append("  -> ").Append(seen);
            }
            sb.Append('\n');
        }
        return sb.Append("violation: ").Append(Violation).ToString();
    }
}
