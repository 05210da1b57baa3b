using CpuidFunctional.Bench.Measurement;
using CpuidFunctional.Interpreter.Decoding;

namespace CpuidFunctional.Properties.Bench;

/// <summary>
/// The benchmark's deterministic targets, as counts (never times): marginal runtime CPUID updates and XSAVE-size
/// computations per round trip on Skylake-SP, for the functional interpreter and the mutable baseline alike.
/// </summary>
public class RoundTripCountTests
{
    private static (double Updates, double Sizes, double Instructions) Counts(string workload, string policy) =>
        Measurer.MarginalCounts(workload, HostPresets.SkylakeSp, BenchPolicy.All.Single(p => p.Name == policy), new DecodeCache());

    [Theory]
    [InlineData("eager")]
    [InlineData("mutable-eager")]
    public void Cpuid_loop_eager_updates_at_least_twice_per_round_trip_as_KVM_6_14_did(string policy)
    {
        var (updates, sizes, _) = Counts("cpuid-loop", policy);
        Assert.True(updates >= 2, $"{policy}: {updates} updates per round trip");
        Assert.Equal(2 * updates, sizes); // 0xD.0 and 0xD.1 (XSAVEC/XSAVES exposed) per update
    }

    [Theory]
    [InlineData("lazy")]
    [InlineData("mutable-lazy")]
    [InlineData("reference")]
    public void Cpuid_loop_lazy_never_updates_because_L0_answers_no_CPUID(string policy) =>
        Assert.Equal((0.0, 0.0), (Counts("cpuid-loop", policy).Updates, Counts("cpuid-loop", policy).Sizes));

    [Theory]
    [InlineData("lazy")]
    [InlineData("mutable-lazy")]
    public void L1_cpuid_lazy_materializes_exactly_once_per_round_trip(string policy) =>
        Assert.Equal(1.0, Counts("l1-cpuid", policy).Updates);

    [Theory]
    [InlineData("eager")]
    [InlineData("mutable-eager")]
    public void Svm_cpuid_loop_eager_updates_twice_per_round_trip_at_VMRUN_and_VMEXIT(string policy) =>
        Assert.Equal(2.0, Counts("svm-cpuid-loop", policy).Updates);

    [Theory]
    [InlineData("lazy")]
    [InlineData("mutable-lazy")]
    public void Svm_cpuid_loop_lazy_never_updates_because_L1_answers_every_L2_CPUID(string policy) =>
        Assert.Equal(0.0, Counts("svm-cpuid-loop", policy).Updates);

    [Theory]
    [InlineData("eager")]
    [InlineData("lazy")]
    [InlineData("mutable-eager")]
    [InlineData("mutable-lazy")]
    public void Svm_cpuid_l0_costs_no_update_per_round_trip_and_no_VMRUN_either(string policy)
    {
        var (updates, _, instructions) = Counts("svm-cpuid-l0", policy);
        Assert.Equal(0.0, updates);
        Assert.Equal(5.0, instructions); // mov, xor, cpuid, dec, jne: L0 answers in L2, no #VMEXIT
    }

    [Theory]
    [InlineData("cpuid-loop")]
    [InlineData("kvm-like-l1")]
    [InlineData("l1-cpuid")]
    [InlineData("cr4-toggle")]
    public void Lazy_does_less_update_work_than_eager_and_the_baseline_counts_the_same(string workload)
    {
        var eager = Counts(workload, "eager");
        var lazy = Counts(workload, "lazy");
        Assert.True(lazy.Updates < eager.Updates, $"{workload}: lazy {lazy.Updates} vs eager {eager.Updates}");
        Assert.Equal(eager, Counts(workload, "mutable-eager"));
        Assert.Equal(lazy, Counts(workload, "mutable-lazy"));
    }
}
