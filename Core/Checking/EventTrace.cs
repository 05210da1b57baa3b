using System.Globalization;
using System.Text;
using CpuidFunctional.Core.Cpuid;
using CpuidFunctional.Core.Model;
using CpuidFunctional.Core.State;

namespace CpuidFunctional.Core.Checking;

/// <summary>
/// A VM and the events applied, in order, to a new vCPU of it (<see cref="KvmState.Create"/>); the first event is
/// usually the KVM_SET_CPUID2 of the guest table. Run under several policies side by side, the policies must make
/// the same observation at every event.
/// </summary>
/// <param name="Vm">The VM: host, kernel profile, quirks disabled at creation.</param>
/// <param name="Events">The events.</param>
public sealed record EventTrace(Vm Vm, ValueArray<VcpuEvent> Events)
{
    /// <summary>
    /// Runs the events under every policy in lock-step and returns the first event at which their observations
    /// differ, or null if they agree throughout. Only the observations each Step returns are compared, so checking
    /// never materializes anything itself.
    /// </summary>
    public TraceDivergence? FirstDivergence(IReadOnlyList<Policy> policies)
    {
        var states = new KvmState[policies.Count];
        var seen = new Observation?[policies.Count];
        for (var p = 0; p < policies.Count; p++)
        {
            states[p] = KvmState.Create(Vm, policies[p]);
        }
        for (var i = 0; i < Events.Count; i++)
        {
            var differ = false;
            for (var p = 0; p < policies.Count; p++)
            {
                var t = Kvm.Step(policies[p], states[p], Events[i]);
                states[p] = t.State;
                seen[p] = t.Observation;
                differ |= p > 0 && !Equals(seen[p], seen[0]);
            }
            if (differ)
            {
                return new TraceDivergence(i, new([.. policies]), new([.. seen]));
            }
        }
        return null;
    }

    /// <summary>The state <paramref name="policy"/> reaches after the first <paramref name="count"/> events.</summary>
    public KvmState StateAfter(Policy policy, int count)
    {
        var state = KvmState.Create(Vm, policy);
        for (var i = 0; i < count; i++)
        {
            state = Kvm.Step(policy, state, Events[i]).State;
        }
        return state;
    }

    /// <summary>
    /// The smallest trace found that still makes the policies differ (the trace itself if they agree): cut after the
    /// first difference, then drop single events (never the first) and single entries of the first KVM_SET_CPUID2's
    /// table for as long as the policies still differ (one-at-a-time delta debugging). With <paramref name="guarded"/>,
    /// candidates the <see cref="MwaitQuirkRule"/> would change are skipped, so the result stays free of the known
    /// MWAIT-quirk divergence. <c>cpuidf random</c> and the test suite both minimize with it.
    /// </summary>
    public EventTrace Minimize(IReadOnlyList<Policy> policies, bool guarded = true)
    {
        if (FirstDivergence(policies) is not { } first)
        {
            return this;
        }
        var current = CutAfter(first.EventIndex);
        bool progress;
        do
        {
            progress = false;
            for (var i = current.Events.Count - 1; i >= 1; i--)
            {
                if ((current with { Events = current.Events.Items.RemoveAt(i) }).StillDiffering(policies, guarded) is { } smaller)
                {
                    current = smaller;
                    progress = true;
                    i = Math.Min(i, current.Events.Count);
                }
            }
            if (current.Events[0] is VcpuEvent.SetCpuid2(var table))
            {
                for (var j = table.Count - 1; j >= 0; j--)
                {
                    var fewer = CpuidTable.Of(table.Entries.RemoveAt(j));
                    var candidate = current with { Events = new([.. current.Events.Select(e => e is VcpuEvent.SetCpuid2(var t) && t.Equals(table) ? new VcpuEvent.SetCpuid2(fewer) : e)]) };
                    if (candidate.StillDiffering(policies, guarded) is { } smaller)
                    {
                        current = smaller;
                        table = fewer;
                        progress = true;
                    }
                }
            }
        }
        while (progress);
        return current;
    }

    /// <summary>This candidate cut after its first difference, or null if the policies agree on it (or the guard would change it).</summary>
    private EventTrace? StillDiffering(IReadOnlyList<Policy> policies, bool guarded) =>
        (guarded && MwaitQuirkRule.Apply(Vm, Events) != Events) || FirstDivergence(policies) is not { } d ? null : CutAfter(d.EventIndex);

    private EventTrace CutAfter(int index) => index + 1 == Events.Count ? this : this with { Events = new([.. Events.Items.Take(index + 1)]) };

    /// <summary>The trace as a numbered event script.</summary>
    public override string ToString() => Script(Events.Count);

    /// <summary>
    /// The first <paramref name="count"/> events as a numbered script after a line naming the VM. The first
    /// KVM_SET_CPUID2 lists its table (XSAVE component sub-leaves 0xD.2 and up are only counted); later ones list the
    /// entries that differ from it.
    /// </summary>
    public string Script(int count)
    {
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"host {Vm.Host}, kernel {Vm.Profile}, quirks disabled at creation: {Vm.DisabledQuirks}");
        CpuidTable? first = null;
        for (var i = 0; i < Math.Min(count, Events.Count); i++)
        {
            var e = Events[i];
            sb.Append(CultureInfo.InvariantCulture, $"\n{i + 1,3}. {e}");
            if (e is not VcpuEvent.SetCpuid2(var table))
            {
                continue;
            }
            if (first is null)
            {
                first = table;
                var components = 0;
                foreach (var entry in table.Entries)
                {
                    if (entry is { Function: 0xD, Index: >= 2, HasSignificantIndex: true })
                    {
                        components++;
                        continue;
                    }
                    sb.Append("\n       ").Append(entry.ToString());
                }
                if (components > 0)
                {
                    sb.Append(CultureInfo.InvariantCulture, $"\n       (+ {components} XSAVE component sub-leaves 0xD.2 and up, as on the host)");
                }
            }
            else if (table.Count > CpuidTable.MaxEntries)
            {
                sb.Append(" (more than KVM_MAX_CPUID_ENTRIES, not listed)");
            }
            else if (table.Equals(first))
            {
                sb.Append(" (the same table as the first KVM_SET_CPUID2)");
            }
            else
            {
                AppendDifferences(sb, table, first);
            }
        }
        if (count < Events.Count)
        {
            sb.Append(CultureInfo.InvariantCulture, $"\n     ({Events.Count - count} later events not shown)");
        }
        return sb.ToString();
    }

    private static void AppendDifferences(StringBuilder sb, CpuidTable table, CpuidTable first)
    {
        sb.Append(" (differs from the first table:");
        var n = Math.Max(table.Count, first.Count);
        for (var j = 0; j < n; j++)
        {
            var mine = j < table.Count ? table[j].ToString() : "(none)";
            var theirs = j < first.Count ? first[j].ToString() : "(none)";
            if (!string.Equals(mine, theirs, StringComparison.Ordinal))
            {
                sb.Append(CultureInfo.InvariantCulture, $"\n       entry {j}: {mine}");
            }
        }
        sb.Append(')');
    }

    /// <summary>A trace from a list of events.</summary>
    public static EventTrace Of(Vm vm, IEnumerable<VcpuEvent> events) => new(vm, new ValueArray<VcpuEvent>([.. events]));
}
