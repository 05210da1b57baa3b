using System.Collections.Immutable;
using CpuidFunctional.Core;
using CpuidFunctional.Core.Cpuid;
using CpuidFunctional.Core.Dynamic;
using CpuidFunctional.Core.Model;
using CpuidFunctional.Core.State;

namespace CpuidFunctional.Properties.Generators;

/// <summary>
/// Keeps the one real divergence out of the main generator (issue property 6, spec Modelling note 5).
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
/// show what the guard removes.
/// </para>
/// </summary>
public static class MwaitQuirkGuard
{
    private const ulong NoMwait = (ulong)KvmQuirks.MiscEnableNoMwait;

    /// <summary>Whether, in an Eager state, the table's MWAIT bit is stale: quirk off and the bit differs from MISC_ENABLE bit 18.</summary>
    public static bool MwaitStale(KvmState eager)
    {
        if (eager.Vm.QuirkInEffect(KvmQuirks.MiscEnableNoMwait))
        {
            return false;
        }
        var leaf1 = eager.Vcpu.Cpuid.IndexOfFunction(1);
        if (leaf1 < 0)
        {
            return false;
        }
        var tableBit = eager.Vcpu.Cpuid[leaf1].Has(CpuidRegister.Ecx, DynamicBits.MwaitBit);
        var miscEnableBit = (eager.Vcpu.MiscEnable & Msr.MiscEnableMwait) != 0;
        return tableBit != miscEnableBit;
    }

    /// <summary>The trace without the events that would leave the MWAIT bit stale without a trigger.</summary>
    public static KvmTrace Apply(KvmTrace trace)
    {
        var events = trace.Events;
        if (!events.Any(Suspect))
        {
            return trace;
        }
        var state = trace.Start(Policy.Eager);
        var builder = ImmutableArray.CreateBuilder<VcpuEvent>(events.Count);
        var changed = false;
        foreach (var e in events)
        {
            var next = Kvm.Step(Policy.Eager, state, e).State;
            if (Suspect(e) && !MwaitStale(state) && MwaitStale(next))
            {
                changed = true;
                if (e is not VcpuEvent.DisableQuirks2(var mask))
                {
                    continue; // RESET: dropped
                }
                var kept = new VcpuEvent.DisableQuirks2(mask & ~NoMwait);
                builder.Add(kept);
                state = Kvm.Step(Policy.Eager, state, kept).State;
                continue;
            }
            builder.Add(e);
            state = next;
        }
        return changed ? trace with { Events = new ValueArray<VcpuEvent>(builder.ToImmutable()) } : trace;
    }

    private static bool Suspect(VcpuEvent e) =>
        e is VcpuEvent.Reset || (e is VcpuEvent.DisableQuirks2(var m) && (m & NoMwait) != 0);
}
