using CpuidFunctional.Core.Checking;

namespace CpuidFunctional.Properties.Equivalence;

/// <summary>
/// The properties' view of Core's lock-step check (<see cref="EventTrace.FirstDivergence"/>) and minimizer
/// (<see cref="EventTrace.Minimize"/>): agreement as a bool, and failures explained with each policy's inputs.
/// </summary>
public static class Lockstep
{
    /// <summary>The first event where the policies' observations differ, with each policy's state just before it; null if they agree throughout.</summary>
    public static Divergence? FirstDivergence(EventTrace trace, IReadOnlyList<Policy> policies) =>
        trace.FirstDivergence(policies) is { } d
            ? new Divergence(trace, d.EventIndex, [.. policies], [.. d.Observations], [.. policies.Select(p => trace.StateAfter(p, d.EventIndex))])
            : null;

    /// <summary>Whether the policies agree at every event.</summary>
    public static bool Agree(EventTrace trace, IReadOnlyList<Policy> policies) => trace.FirstDivergence(policies) is null;

    /// <summary>
    /// A failure report: the divergence on the minimized trace (<see cref="EventTrace.Minimize"/>), and the size of the
    /// trace CsCheck reported; the plain script if (on replay) there is no divergence.
    /// </summary>
    /// <param name="trace">The failing trace.</param>
    /// <param name="policies">The policies compared.</param>
    /// <param name="guarded">Minimize within the main generator's domain (see <see cref="Generators.MwaitQuirkGuard"/>).</param>
    public static string Explain(EventTrace trace, IReadOnlyList<Policy> policies, bool guarded = true)
    {
        var minimal = trace.Minimize(policies, guarded);
        if (FirstDivergence(minimal, policies) is not { } d)
        {
            return trace + "\n\n(no divergence between " + string.Join(", ", policies) + ")";
        }
        var note = minimal == trace
            ? ""
            : $"\n(minimized from CsCheck's shrunk trace of {trace.Events.Count} events, table of {Nent(trace)} entries)";
        return d + note;
    }

    private static int Nent(EventTrace trace) => trace.Events[0] is VcpuEvent.SetCpuid2(var t) ? t.Count : 0;
}
