using CpuidFunctional.Core.Checking;
using CpuidFunctional.Core.Dynamic;
using CpuidFunctional.Properties.Generators;
using CsCheck;

namespace CpuidFunctional.Properties.Equivalence;

/// <summary>
/// Property 2: the pending-update marker is precise. With it clear the table is already current; materializing is
/// idempotent; after every observation Lazy holds exactly Eager's table, and the cached capability bits agree with
/// the table's bits.
/// </summary>
public class MarkerPrecisionTests
{
    [Fact]
    public void Materializing_with_the_marker_clear_changes_nothing() =>
        TraceGen.Trace.Sample(
            t => HoldsAfterEveryEvent(t, Policy.Lazy, (vm, v) => v.CpuidDynamicBitsDirty || IsCurrent(vm, v, Policy.Lazy))
                && HoldsAfterEveryEvent(t, Policy.Eager, (vm, v) => IsCurrent(vm, v, Policy.Eager)),
            iter: Budget.Iter(15_000),
            print: t => t.ToString()
        );

    [Fact]
    public void Materializing_twice_equals_materializing_once() =>
        TraceGen.Trace.Sample(
            t => HoldsAfterEveryEvent(t, Policy.Lazy, (vm, v) =>
            {
                var once = DynamicBits.Materialize(vm, v, v.Cpuid, v.Caps, KvmRules.Kvm);
                var after = v with { Cpuid = once.Table, Caps = once.Caps };
                var twice = DynamicBits.Materialize(vm, after, once.Table, once.Caps, KvmRules.Kvm);
                return twice.Table.Equals(once.Table) && twice.Caps == once.Caps;
            }),
            iter: Budget.Iter(15_000),
            print: t => t.ToString()
        );

    [Fact]
    public void After_any_observation_the_lazy_table_and_caps_equal_the_eager_ones() =>
        TraceGen.Trace.Sample(t => AfterObservations(t) is null, iter: Budget.Iter(15_000), print: t => t + "\n\n" + AfterObservations(t));

    /// <summary>The table and capability bits are what a runtime update would produce now.</summary>
    private static bool IsCurrent(Vm vm, Vcpu v, Policy policy)
    {
        var m = DynamicBits.Materialize(vm, v, v.Cpuid, v.Caps, policy.Rules);
        return m.Table.Equals(v.Cpuid) && m.Caps == v.Caps;
    }

    /// <summary>Runs a trace and checks an invariant on the state after every event; true if it always holds.</summary>
    private static bool HoldsAfterEveryEvent(EventTrace t, Policy policy, Func<Vm, Vcpu, bool> invariant)
    {
        var s = KvmState.Create(t.Vm, policy);
        foreach (var e in t.Events)
        {
            s = Kvm.Step(policy, s, e).State;
            if (!invariant(s.Vm, s.Vcpu))
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>
    /// Eager and Lazy side by side: after every CPUID answer and KVM_GET_CPUID2 table, and whenever the marker is
    /// clear, Lazy's table and caps equal Eager's and the caps equal the table's bits. Null if that holds; else why not.
    /// </summary>
    private static string? AfterObservations(EventTrace t)
    {
        var eager = KvmState.Create(t.Vm, Policy.Eager);
        var lazy = KvmState.Create(t.Vm, Policy.Lazy);
        for (var i = 0; i < t.Events.Count; i++)
        {
            eager = Kvm.Step(Policy.Eager, eager, t.Events[i]).State;
            var step = Kvm.Step(Policy.Lazy, lazy, t.Events[i]);
            lazy = step.State;
            var observed = step.Observation is Observation.CpuidResult or Observation.Cpuid2;
            if (!observed && lazy.Vcpu.CpuidDynamicBitsDirty)
            {
                continue;
            }
            var (l, e) = (lazy.Vcpu, eager.Vcpu);
            if (l.CpuidDynamicBitsDirty)
            {
                return $"after event {i + 1} the marker is still set";
            }
            if (!l.Cpuid.Equals(e.Cpuid) || l.Caps != e.Caps)
            {
                return $"after event {i + 1}: Lazy caps {l.Caps} table {l.Cpuid}\nEager caps {e.Caps} table {e.Cpuid}";
            }
            if (l.Caps != DynamicBits.CapsOf(l.Cpuid))
            {
                return $"after event {i + 1}: cached caps {l.Caps}, table says {DynamicBits.CapsOf(l.Cpuid)}";
            }
        }
        return null;
    }
}
