using System.Globalization;
using System.Text;
using CpuidFunctional.Core;
using CpuidFunctional.Core.Cpuid;
using CpuidFunctional.Core.Model;
using CpuidFunctional.Core.State;

namespace CpuidFunctional.Properties.Generators;

/// <summary>
/// A test case: a VM (host, kernel profile, quirks disabled at creation) and the events applied, in order, to a
/// vCPU fresh from <see cref="KvmState.Create"/>. The first event is the KVM_SET_CPUID2 of the guest table.
/// </summary>
/// <param name="Vm">The VM the vCPU belongs to.</param>
/// <param name="Events">The events, first the initial KVM_SET_CPUID2.</param>
public sealed record KvmTrace(Vm Vm, ValueArray<VcpuEvent> Events)
{
    /// <summary>The state every policy starts from.</summary>
    public KvmState Start(Policy policy) => KvmState.Create(Vm, policy);

    /// <summary>The trace as a numbered event script.</summary>
    public override string ToString() => Script(Events.Count);

    /// <summary>
    /// The first <paramref name="count"/> events as a numbered script. The first KVM_SET_CPUID2 lists its table
    /// (the XSAVE component sub-leaves 0xD.2 and up, which no rule reads, are only counted); later ones list the
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
                sb.Append(" (the same table as event 1)");
            }
            else
            {
                sb.Append(" (differs from event 1's table:");
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
        }
        if (count < Events.Count)
        {
            sb.Append(CultureInfo.InvariantCulture, $"\n     ({Events.Count - count} later events not shown)");
        }
        return sb.ToString();
    }
}
