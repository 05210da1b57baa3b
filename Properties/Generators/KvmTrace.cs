using System.Globalization;
using System.Text;
using CpuidFunctional.Core;
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

    /// <summary>The trace as a numbered event script; KVM_SET_CPUID2 events list their table.</summary>
    public override string ToString()
    {
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"host {Vm.Host}, kernel {Vm.Profile}, quirks disabled at creation: {Vm.DisabledQuirks}");
        CpuidFunctional.Core.Cpuid.CpuidTable? previous = null;
        for (var i = 0; i < Events.Count; i++)
        {
            var e = Events[i];
            sb.Append(CultureInfo.InvariantCulture, $"\n{i + 1,3}. {e}");
            if (e is VcpuEvent.SetCpuid2(var table))
            {
                if (table.Equals(previous))
                {
                    sb.Append(" (same table as before)");
                }
                else
                {
                    foreach (var entry in table.Entries)
                    {
                        sb.Append("\n       ").Append(entry.ToString());
                    }
                }
                previous = table;
            }
        }
        return sb.ToString();
    }
}
