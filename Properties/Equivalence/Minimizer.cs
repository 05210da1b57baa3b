using System.Collections.Immutable;
using CpuidFunctional.Core;
using CpuidFunctional.Core.Cpuid;
using CpuidFunctional.Core.Model;
using CpuidFunctional.Core.State;
using CpuidFunctional.Properties.Generators;

namespace CpuidFunctional.Properties.Equivalence;

/// <summary>
/// A last, deterministic shrinking pass over a counterexample CsCheck has already shrunk: cut the trace after the
/// first difference, then drop single events and single entries of the initial table for as long as the policies
/// still differ (one-at-a-time delta debugging). Candidates the <see cref="MwaitQuirkGuard"/> would change are
/// skipped, so the result stays inside the generator's domain.
/// </summary>
public static class Minimizer
{
    /// <summary>The smallest trace found that still makes the policies differ (the trace itself if it does not).</summary>
    /// <param name="trace">A trace on which the policies differ.</param>
    /// <param name="policies">The policies.</param>
    /// <param name="guarded">Keep candidates inside the main generator's domain (unchanged by <see cref="MwaitQuirkGuard"/>).</param>
    public static KvmTrace Minimize(KvmTrace trace, IReadOnlyList<Policy> policies, bool guarded = true)
    {
        if (Lockstep.FirstDivergence(trace, policies) is not { } d)
        {
            return trace;
        }
        var events = trace.Events.Items.Take(d.EventIndex + 1).ToList();
        var current = trace with { Events = Of(events) };
        bool progress;
        do
        {
            progress = false;
            for (var i = current.Events.Count - 1; i >= 1; i--)
            {
                var candidate = current with { Events = Of(current.Events.Items.RemoveAt(i)) };
                if (Keeps(candidate, policies, guarded))
                {
                    current = Cut(candidate, policies);
                    progress = true;
                    i = Math.Min(i, current.Events.Count);
                }
            }
            if (current.Events[0] is VcpuEvent.SetCpuid2(var table))
            {
                for (var j = table.Count - 1; j >= 0; j--)
                {
                    var smaller = CpuidTable.Of(table.Entries.RemoveAt(j));
                    var candidate = current with { Events = Of(current.Events.Select(e => Replace(e, table, smaller))) };
                    if (Keeps(candidate, policies, guarded))
                    {
                        current = Cut(candidate, policies);
                        table = smaller;
                        progress = true;
                    }
                }
            }
        }
        while (progress);
        return current;
    }

    private static bool Keeps(KvmTrace candidate, IReadOnlyList<Policy> policies, bool guarded) =>
        (!guarded || MwaitQuirkGuard.Apply(candidate) == candidate) && Lockstep.FirstDivergence(candidate, policies) is not null;

    private static KvmTrace Cut(KvmTrace trace, IReadOnlyList<Policy> policies)
    {
        var d = Lockstep.FirstDivergence(trace, policies)!;
        return d.EventIndex + 1 == trace.Events.Count ? trace : trace with { Events = Of(trace.Events.Take(d.EventIndex + 1)) };
    }

    private static VcpuEvent Replace(VcpuEvent e, CpuidTable old, CpuidTable replacement) =>
        e is VcpuEvent.SetCpuid2(var t) && t.Equals(old) ? new VcpuEvent.SetCpuid2(replacement) : e;

    private static ValueArray<VcpuEvent> Of(IEnumerable<VcpuEvent> events) => new([.. events]);
}
