using System.Collections.Immutable;
using CpuidFunctional.Core.Cpuid;
using CpuidFunctional.Core.Dynamic;
using CpuidFunctional.Core.Model;
using CpuidFunctional.Core.State;

namespace CpuidFunctional.Core.Checking;

/// <summary>
/// The rule that keeps the real divergences between KVM's schemes out of random traces (spec Modelling note 5, and
/// 6.15's re-enabled quirk).
/// <para>
/// CPUID.1:ECX.MWAIT has inputs that change without a trigger: disabling the MISC_ENABLE_NO_MWAIT quirk (which marks
/// nothing dirty in either design) and, once the quirk is off, the IA32_MISC_ENABLE value RESET assigns directly
/// (<c>kvm_vcpu_reset</c>). After such an event the table's MWAIT bit can be stale: with an update pending, Lazy
/// samples the quirk and MISC_ENABLE bit 18 at the next observation while Eager keeps its bit (real KVM's
/// divergence); with none pending, Eager and Lazy both keep the stale bit but Reference reports bit 18 at once.
/// </para>
/// <para>
/// So an event of those two kinds is kept only if, after it, the quirk is still in effect or Eager's first leaf-1
/// entry has MWAIT equal to MISC_ENABLE bit 18. Otherwise a KVM_CAP_DISABLE_QUIRKS2 loses the quirk bit from its
/// mask and a RESET is dropped.
/// </para>
/// <para>
/// Where KVM_CAP_DISABLE_QUIRKS2 assigns its mask (6.1 and 6.15, <see cref="KernelProfiles.AssignsDisabledQuirks"/>), a
/// mask without the quirk switches it back on: the MWAIT rule changes again without a trigger, the other way round (a
/// pending update no longer writes MWAIT, so Lazy keeps the bit Eager already replaced; Reference keeps the installed
/// bit). Such a mask gains the quirk bit, so the quirk stays disabled.
/// </para>
/// </summary>
public static class MwaitQuirkRule
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

    /// <summary>
    /// The events, applied in order to a new vCPU of <paramref name="vm"/>, without those that would leave the MWAIT
    /// bit stale without a trigger; <paramref name="events"/> itself when nothing had to go.
    /// </summary>
    public static ValueArray<VcpuEvent> Apply(Vm vm, ValueArray<VcpuEvent> events)
    {
        var assigns = KernelProfiles.AssignsDisabledQuirks(vm.Profile);
        if (!events.Items.Any(e => Suspect(e, assigns)))
        {
            return events;
        }
        var state = KvmState.Create(vm, Policy.Eager);
        var builder = ImmutableArray.CreateBuilder<VcpuEvent>(events.Count);
        var changed = false;
        foreach (var item in events.Items)
        {
            var e = item;
            if (e is VcpuEvent.DisableQuirks2(var asked) && ReenablesNoMwait(state.Vm, asked))
            {
                changed = true;
                e = new VcpuEvent.DisableQuirks2(asked | NoMwait);
            }
            var next = Kvm.Step(Policy.Eager, state, e).State;
            if (Suspect(e, assigns) && !MwaitStale(state) && MwaitStale(next))
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
        return changed ? new ValueArray<VcpuEvent>(builder.ToImmutable()) : events;
    }

    private static bool Suspect(VcpuEvent e, bool assigns) =>
        e is VcpuEvent.Reset || (e is VcpuEvent.DisableQuirks2(var m) && (assigns || (m & NoMwait) != 0));

    /// <summary>
    /// Whether KVM_CAP_DISABLE_QUIRKS2 with <paramref name="mask"/> switches MISC_ENABLE_NO_MWAIT back on: the VM
    /// assigns masks, has the quirk disabled, and the mask is accepted but lacks it.
    /// </summary>
    private static bool ReenablesNoMwait(Vm vm, ulong mask) =>
        KernelProfiles.AssignsDisabledQuirks(vm.Profile)
        && !vm.QuirkInEffect(KvmQuirks.MiscEnableNoMwait)
        && (mask & NoMwait) == 0
        && ((KvmQuirks)mask & ~vm.SupportedQuirks) == 0;
}
