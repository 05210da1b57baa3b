using CpuidFunctional.Core.Checking;

namespace CpuidFunctional.Properties.Generators;

/// <summary>
/// Keeps the real divergences out of the main generator (issue property 6, spec Modelling note 5; 6.15's re-enabled
/// quirk, see <see cref="MwaitQuirkRule"/>).
/// <para>
/// CPUID.1:ECX.MWAIT has an input that can change without a trigger: the MISC_ENABLE_NO_MWAIT quirk itself
/// (disabling it marks nothing dirty in either design) and, once the quirk is off, IA32_MISC_ENABLE bit 18 when RESET
/// assigns MISC_ENABLE directly (<c>kvm_vcpu_reset</c>; in KVM that only happens at vCPU creation, before any table
/// exists, but the model allows RESET at any time). After such an event the table's MWAIT bit can be stale:
/// </para>
/// <list type="bullet">
/// <item>with an update pending, Lazy samples the quirk and MISC_ENABLE at the next observation and reports bit 18,
/// while Eager keeps the bit it had: the real KVM divergence (the quirk case needs the marker set);</item>
/// <item>with no update pending, Eager and Lazy both keep the stale bit until the next trigger, but Reference, which
/// recomputes from the current state at every observation, reports bit 18 at once.</item>
/// </list>
/// <para>
/// So the guard that makes all three correct policies agree is state-dependent and independent of the marker: an
/// event of those two kinds is kept only if, after it, either the quirk is still in effect or Eager's first leaf-1
/// entry has MWAIT equal to MISC_ENABLE bit 18 (Eager's table is what every trigger leaves behind). Otherwise a
/// DisableQuirks2 loses the quirk bit from its mask and a RESET is dropped. The tests in MwaitQuirkDivergenceTests
/// show what the guard removes. The rule itself lives in Core (<see cref="MwaitQuirkRule"/>) so that
/// <c>cpuidf random</c> applies the same one.
/// </para>
/// </summary>
public static class MwaitQuirkGuard
{
    /// <summary>Whether, in an Eager state, the table's MWAIT bit is stale: quirk off and the bit differs from MISC_ENABLE bit 18.</summary>
    public static bool MwaitStale(KvmState eager) => MwaitQuirkRule.MwaitStale(eager);

    /// <summary>The trace without the events that would leave the MWAIT bit stale without a trigger (Core's <see cref="MwaitQuirkRule"/>).</summary>
    public static EventTrace Apply(EventTrace trace)
    {
        var events = MwaitQuirkRule.Apply(trace.Vm, trace.Events);
        return events == trace.Events ? trace : trace with { Events = events };
    }
}
