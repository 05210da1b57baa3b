using CpuidFunctional.Core.Checking;

namespace CpuidFunctional.Properties.Checking;

/// <summary>
/// <see cref="KvmEquivalenceModel.Explore"/> searches over interned policy states; the plain explorer searches over the
/// model's own states. Their figures and counterexamples must be the same, event for event and observation for
/// observation, for correct policies, wrong variants and any number of workers.
/// </summary>
public class MemoizedProductTests
{
    private static ExplorationResult<ProductState, VcpuEvent, ProductObservation> Plain(KvmEquivalenceModel model, ExplorationOptions options) =>
        Explorer.Explore<ProductState, VcpuEvent, ProductObservation, KvmEquivalenceModel>(model, options, TestContext.Current.CancellationToken);

    private static KvmEquivalenceModel Model(HostCpu host, KernelProfile profile, params Policy[] policies)
    {
        var configuration = CheckConfiguration.FromHost(host, profile).WithPolicies(policies);
        return new KvmEquivalenceModel(configuration, KvmAlphabet.For(configuration, EquivalenceBounds.Chain));
    }

    private static void AssertSameResult(KvmEquivalenceModel model, ExplorationOptions options)
    {
        var plain = Plain(model, options);
        var memoized = model.Explore(options, TestContext.Current.CancellationToken);

        Assert.Equal(plain.Outcome, memoized.Outcome);
        Assert.Equal(plain.Statistics, memoized.Statistics);
        Assert.Equal(plain.Counterexample?.ToString(), memoized.Counterexample?.ToString());
        Assert.Equal(plain.Counterexample?.Steps.Items.Select(s => s.State), memoized.Counterexample?.Steps.Items.Select(s => s.State));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void The_three_correct_policies_give_the_same_figures_on_skylake_sp_6_18(int workers) =>
        AssertSameResult(
            Model(HostPresets.SkylakeSp, KernelProfile.Linux6_18, Policy.Eager, Policy.Lazy, Policy.Reference),
            new ExplorationOptions { Parallelism = workers, MaxDepth = 6 }
        );

    [Fact]
    public void LazyUnfixed_gives_the_same_counterexample() =>
        AssertSameResult(Model(HostPresets.SkylakeSp, KernelProfile.Linux6_15, Policy.Eager, Policy.LazyUnfixed), new ExplorationOptions());

    [Theory]
    [InlineData(nameof(WrongRules.ForgetXcr0Trigger))]
    [InlineData(nameof(WrongRules.MwaitQuirkInverted))]
    [InlineData(nameof(WrongRules.VmExitCr4NotTrigger))]
    public void A_wrong_variant_gives_the_same_counterexample_on_two_workers(string variant) =>
        AssertSameResult(
            Model(HostPresets.SkylakeSp, KernelProfile.Linux6_18, Policy.Eager, new Policy(UpdateScheme.Lazy, WrongRules.Named(variant)!), Policy.Reference),
            new ExplorationOptions { Parallelism = 2 }
        );

    [Fact]
    public void Five_policies_take_the_plain_search_with_the_same_figures() =>
        AssertSameResult(
            Model(HostPresets.Genoa, KernelProfile.Linux6_15, Policy.Eager, Policy.Lazy, Policy.Reference, Policy.Lazy, Policy.Eager),
            new ExplorationOptions { MaxDepth = 4 }
        );

    [Fact]
    public void A_table_hashed_by_its_dynamic_positions_hashes_equal_tables_alike_whatever_their_representation()
    {
        var initial = HostPresets.SkylakeSp.Cpuid;
        var at = new CpuidFunctional.Core.Checking.Internal.DynamicPositions(initial);
        var d0 = initial.IndexOf(0xD, 0);
        var patched = initial.SetItem(d0, initial[d0] with { Ebx = initial[d0].Ebx + 64 });
        var flat = CpuidTable.Of(patched.Entries);

        Assert.Equal(patched, flat);
        Assert.Equal(at.TableHash(patched), at.TableHash(flat));
        Assert.NotEqual(at.TableHash(initial), at.TableHash(patched));
    }
}
