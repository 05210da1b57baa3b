using CpuidFunctional.Core.Model;
using CpuidFunctional.Core.State;
using CpuidFunctional.Properties.Generators;

namespace CpuidFunctional.Properties.Equivalence;

/// <summary>
/// Runs one trace under several policies side by side and compares their observations at every event. Comparing
/// reads only the observations each Step returned, so checking never materializes anything itself.
/// </summary>
public static class Lockstep
{
    /// <summary>The first event where the policies' observations differ, or null if they agree throughout.</summary>
    public static Divergence? FirstDivergence(KvmTrace trace, IReadOnlyList<Policy> policies)
    {
        var states = new KvmState[policies.Count];
        var before = new KvmState[policies.Count]; // reused: the states just before the current event
        var seen = new Observation?[policies.Count];
        for (var p = 0; p < policies.Count; p++)
        {
            states[p] = trace.Start(policies[p]);
        }
        var events = trace.Events;
        for (var i = 0; i < events.Count; i++)
        {
            Array.Copy(states, before, states.Length);
            var differ = false;
            for (var p = 0; p < policies.Count; p++)
            {
                var t = Kvm.Step(policies[p], states[p], events[i]);
                states[p] = t.State;
                seen[p] = t.Observation;
                differ |= p > 0 && !Equals(seen[p], seen[0]);
            }
            if (differ)
            {
                return new Divergence(trace, i, [.. policies], [.. seen], before);
            }
        }
        return null;
    }

    /// <summary>Whether the policies agree at every event.</summary>
    public static bool Agree(KvmTrace trace, IReadOnlyList<Policy> policies) => FirstDivergence(trace, policies) is null;

    /// <summary>
    /// A failure report: the divergence on the <see cref="Minimizer"/>'s smallest version of the trace, and the size
    /// of the trace CsCheck reported; the plain script if (on replay) there is no divergence.
    /// </summary>
    /// <param name="trace">The failing trace.</param>
    /// <param name="policies">The policies compared.</param>
    /// <param name="guarded">Minimize within the main generator's domain (see <see cref="MwaitQuirkGuard"/>).</param>
    public static string Explain(KvmTrace trace, IReadOnlyList<Policy> policies, bool guarded = true)
    {
        var minimal = Minimizer.Minimize(trace, policies, guarded);
        if (FirstDivergence(minimal, policies) is not { } d)
        {
            return trace + "\n\n(no divergence between " + string.Join(", ", policies) + ")";
        }
        var note = minimal.Events.Count == trace.Events.Count && minimal == trace
            ? ""
            : $"\n(minimized from CsCheck's shrunk trace of {trace.Events.Count} events, table of {Nent(trace)} entries)";
        return d + note;
    }

    private static int Nent(KvmTrace trace) => trace.Events[0] is VcpuEvent.SetCpuid2(var t) ? t.Count : 0;
}
