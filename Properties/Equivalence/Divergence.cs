using System.Globalization;
using System.Text;
using CpuidFunctional.Core.Model;
using CpuidFunctional.Core.State;
using CpuidFunctional.Properties.Generators;

namespace CpuidFunctional.Properties.Equivalence;

/// <summary>The first event of a trace at which policies saw different things, with what each saw.</summary>
/// <param name="Trace">The trace.</param>
/// <param name="EventIndex">0-based index of the event (printed 1-based, like the script).</param>
/// <param name="Policies">The policies compared.</param>
/// <param name="Observations">What each policy observed at that event (null: nothing visible).</param>
/// <param name="Before">Each policy's state just before the event.</param>
public sealed record Divergence(
    KvmTrace Trace,
    int EventIndex,
    IReadOnlyList<Policy> Policies,
    IReadOnlyList<Observation?> Observations,
    IReadOnlyList<KvmState> Before
)
{
    /// <summary>The event where the policies differ, the inputs just before it, each observation, then the script up to that event.</summary>
    public override string ToString()
    {
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"first difference at event {EventIndex + 1}: {Trace.Events[EventIndex]}\n");
        var width = Policies.Max(p => p.ToString().Length);
        for (var i = 0; i < Policies.Count; i++)
        {
            var v = Before[i].Vcpu;
            sb.Append(CultureInfo.InvariantCulture, $"  before, {Policies[i].ToString().PadRight(width)}: ");
            sb.Append(CultureInfo.InvariantCulture, $"CR4=0x{v.Cr4:x} XCR0=0x{v.Xcr0:x} XSS=0x{v.Xss:x} APIC_BASE=0x{v.ApicBase:x} ");
            sb.Append(CultureInfo.InvariantCulture, $"MISC_ENABLE=0x{v.MiscEnable:x} quirks off={Before[i].Vm.DisabledQuirks} ");
            sb.Append(CultureInfo.InvariantCulture, $"has_run={v.HasRun} guest_mode={v.GuestMode} dirty={v.CpuidDynamicBitsDirty}\n");
        }
        var tables = Observations.All(o => o is Observation.Cpuid2);
        for (var i = 0; i < Policies.Count; i++)
        {
            sb.Append(CultureInfo.InvariantCulture, $"  {Policies[i].ToString().PadRight(width)} -> ");
            sb.Append(tables ? TableDifference(i) : Observations[i]?.ToString() ?? "(nothing visible)").Append('\n');
        }
        sb.Append('\n').Append(Trace.Script(EventIndex + 1));
        return sb.ToString();
    }

    /// <summary>For KVM_GET_CPUID2, only the entries that differ from the first policy's table.</summary>
    private string TableDifference(int policy)
    {
        var mine = ((Observation.Cpuid2)Observations[policy]!).Table;
        var first = ((Observation.Cpuid2)Observations[0]!).Table;
        if (policy == 0)
        {
            return $"KVM_GET_CPUID2 nent={mine.Count} (entries that differ below)";
        }
        if (mine.Count != first.Count)
        {
            return mine.ToString();
        }
        var sb = new StringBuilder("KVM_GET_CPUID2");
        for (var i = 0; i < mine.Count; i++)
        {
            if (mine[i] != first[i])
            {
                sb.Append(CultureInfo.InvariantCulture, $"\n      entry {i}: {first[i]}  ({Policies[0]})\n      entry {i}: {mine[i]}  ({Policies[policy]})");
            }
        }
        return sb.ToString();
    }
}
