using System.Globalization;
using System.Text;
using CpuidFunctional.Core.Checking;

namespace CpuidFunctional.Properties.Equivalence;

/// <summary>The first event of a trace at which policies saw different things, with what each saw.</summary>
/// <param name="Trace">The trace.</param>
/// <param name="EventIndex">0-based index of the event (printed 1-based, like the script).</param>
/// <param name="Policies">The policies compared.</param>
/// <param name="Observations">What each policy observed at that event (null: nothing visible).</param>
/// <param name="Before">Each policy's state just before the event.</param>
public sealed record Divergence(
    EventTrace Trace,
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
        // What each policy saw, printed as the checking library prints it (cpuidf random shows the same lines).
        sb.Append(new TraceDivergence(EventIndex, new([.. Policies]), new([.. Observations])).Describe()).Append('\n');
        sb.Append('\n').Append(Trace.Script(EventIndex + 1));
        return sb.ToString();
    }
}
