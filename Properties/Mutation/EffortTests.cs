using CpuidFunctional.Core.Dynamic;
using static CpuidFunctional.Properties.Core.TestHosts;

namespace CpuidFunctional.Properties.Mutation;

/// <summary>
/// The work a step reports (<see cref="Effort"/>): one <c>kvm_update_cpuid_runtime</c> per update, and one
/// <c>xstate_required_size</c> for 0xD.0 plus one for 0xD.1 when its EAX has XSAVEC or XSAVES.
/// </summary>
public class EffortTests
{
    private static readonly VcpuEvent SetOsXsave = new VcpuEvent.MovToCr4(Cr4.OsXsave);

    private static CpuidTable Edited(Func<CpuidEntry, CpuidEntry?> edit) =>
        CpuidTable.Of(SkylakeGuest.Entries.Select(edit).OfType<CpuidEntry>());

    private static readonly CpuidTable WithoutCompactedFormats =
        Edited(e => e.Function == 0xD && e.Index == 1 ? e with { Eax = e.Eax & ~(DynamicBits.XsavecBit | DynamicBits.XsavesBit) } : e);

    private static readonly CpuidTable WithoutLeafD = Edited(e => e.Function == 0xD ? null : e);

    public static TheoryData<string, int> Tables => new() { { "Skylake guest", 2 }, { "0xD.1 without XSAVEC/XSAVES", 1 }, { "no leaf 0xD", 0 } };

    private static CpuidTable Table(string name) => name switch
    {
        "Skylake guest" => SkylakeGuest,
        "0xD.1 without XSAVEC/XSAVES" => WithoutCompactedFormats,
        _ => WithoutLeafD,
    };

    [Theory]
    [MemberData(nameof(Tables))]
    public void Eager_runs_one_update_at_the_trigger_with_one_size_per_XSAVE_leaf_it_rewrites(string table, int sizes)
    {
        var s = KvmState.WithCpuid(Vm(), Policy.Eager, Table(table));

        Assert.Equal(new Effort(1, sizes), Kvm.Step(Policy.Eager, s, SetOsXsave).Effort);
    }

    [Theory]
    [MemberData(nameof(Tables))]
    public void Lazy_defers_the_update_to_the_next_CPUID_and_runs_it_once(string table, int sizes)
    {
        var s = KvmState.WithCpuid(Vm(), Policy.Lazy, Table(table));

        var trigger = Kvm.Step(Policy.Lazy, s, SetOsXsave);
        var first = Kvm.Step(Policy.Lazy, trigger.State, new VcpuEvent.Cpuid(1, 0));
        var second = Kvm.Step(Policy.Lazy, first.State, new VcpuEvent.Cpuid(1, 0));

        Assert.Equal(default, trigger.Effort);
        Assert.Equal(new Effort(1, sizes), first.Effort);
        Assert.Equal(default, second.Effort);
    }

    [Theory]
    [MemberData(nameof(Tables))]
    public void Reference_computes_at_every_observation_and_never_at_a_write(string table, int sizes)
    {
        var s = KvmState.WithCpuid(Vm(), Policy.Reference, Table(table));

        var trigger = Kvm.Step(Policy.Reference, s, SetOsXsave);
        var first = Kvm.Step(Policy.Reference, trigger.State, new VcpuEvent.Cpuid(1, 0));
        var second = Kvm.Step(Policy.Reference, first.State, new VcpuEvent.Cpuid(1, 0));

        Assert.Equal(default, trigger.Effort);
        Assert.Equal(new Effort(1, sizes), first.Effort);
        Assert.Equal(new Effort(1, sizes), second.Effort);
    }

    [Theory]
    [MemberData(nameof(Tables))]
    public void Materialize_counts_one_size_computation_per_XSAVE_leaf_it_rewrites(string table, int sizes)
    {
        var s = KvmState.WithCpuid(Vm(), Policy.Eager, Table(table));

        var m = DynamicBits.Materialize(s.Vm, s.Vcpu, s.Vcpu.Cpuid, s.Vcpu.Caps, KvmRules.Kvm);

        Assert.Equal(sizes, m.XstateSizeComputations);
    }
}
