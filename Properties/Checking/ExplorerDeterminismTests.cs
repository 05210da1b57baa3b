using CpuidFunctional.Core.Checking;

namespace CpuidFunctional.Properties.Checking;

/// <summary>
/// The explorer's figures (states, transitions, depth) and its counterexample do not depend on the number of
/// workers or on scheduling, on a violation too (docs/model-checking.md, "Exploring").
/// </summary>
public class ExplorerDeterminismTests
{
    /// <summary>Worker counts compared against one worker; repeated so a scheduling-dependent figure has chances to differ.</summary>
    private static readonly int[] Workers = [2, 2, 2, 4, 4, 0];

    private static ExplorationResult<TState, TEvent, TObservation> Explore<TState, TEvent, TObservation>(
        ITransitionSystem<TState, TEvent, TObservation> model,
        int workers,
        int maxDepth = int.MaxValue
    )
        where TState : IEquatable<TState> =>
        model.Explore(new ExplorationOptions { Parallelism = workers, MaxDepth = maxDepth }, TestContext.Current.CancellationToken);

    /// <summary>
    /// State 0 reaches states 1..100 with events 0..99; every event of those states is a self-loop, except event 50 in
    /// state 2, which violates. 100 parents make 64 chunks and state 2 is in the second. With several workers the
    /// violating step is slow (200 ms), as a first, JIT-compiling step is in a cold run, so the other workers run
    /// ahead through later chunks meanwhile; a count that included their work would differ from the sequential one.
    /// </summary>
    private static ITransitionSystem<int, int, bool> Fan(bool slowViolation) =>
        TransitionSystem.From<int, int, bool>(
            0,
            [.. Enumerable.Range(0, 100)],
            (s, e) => s == 0 ? (e + 1, false) : (s, Violates(s, e, slowViolation)),
            (_, violates) => violates ? "state 2, event 50" : null
        );

    private static bool Violates(int state, int e, bool slow)
    {
        if (state != 2 || e != 50)
        {
            return false;
        }
        if (slow)
        {
            Thread.Sleep(200);
        }
        return true;
    }

    [Fact]
    public void On_a_violation_transitions_are_counted_up_to_the_violating_pair_in_parent_and_event_order()
    {
        // Level 0: 100 transitions; level 1: parent 1 with 100, then parent 2 up to and including event 50 (51).
        const long Sequential = 100 + 100 + 51;

        foreach (var workers in Workers.Prepend(1))
        {
            var result = Explore(Fan(slowViolation: workers != 1), workers);

            Assert.Equal(SearchOutcome.Violated, result.Outcome);
            Assert.Equal(new ExplorationStatistics(101, Sequential, 1, null), result.Statistics);
            Assert.Equal([1, 50], result.Counterexample!.Events);
        }
    }

    [Fact]
    public void The_worked_example_of_the_docs_has_the_same_figures_and_trace_with_one_worker_or_several()
    {
        var configuration = CheckConfiguration.FromHost(HostPresets.SkylakeSp, KernelProfile.Linux6_15).WithPolicies(Policy.Eager, Policy.LazyUnfixed);
        var model = new KvmEquivalenceModel(configuration, KvmAlphabet.For(configuration, EquivalenceBounds.Chain));

        var one = Explore(model, 1);

        // docs/model-checking.md prints these figures.
        Assert.Equal(new ExplorationStatistics(11, 46, 1, null), one.Statistics);
        foreach (var workers in Workers)
        {
            var many = Explore(model, workers);
            Assert.Equal(one.Statistics, many.Statistics);
            Assert.Equal(one.Counterexample!.Events, many.Counterexample!.Events);
        }
    }

    [Fact]
    public void A_depth_bounded_equivalence_check_has_the_same_figures_with_one_worker_or_two()
    {
        var configuration = CheckConfiguration.FromHost(HostPresets.SkylakeSp, KernelProfile.Linux6_18);
        var model = new KvmEquivalenceModel(configuration, KvmAlphabet.For(configuration, EquivalenceBounds.Chain));

        var one = Explore(model, 1, maxDepth: 3);
        var two = Explore(model, 2, maxDepth: 3);

        Assert.Equal(SearchOutcome.Complete, one.Outcome);
        Assert.Equal(3, one.Statistics.Depth);
        Assert.Equal(one.Statistics, two.Statistics);
    }

    [Fact]
    public void A_cancelled_search_reports_the_levels_it_completed()
    {
        using var cancellation = new CancellationTokenSource();
        var levels = new List<ExplorationProgress>();
        var options = new ExplorationOptions
        {
            Progress = p =>
            {
                levels.Add(p);
                if (p.Depth == 2)
                {
                    cancellation.Cancel();
                }
            },
        };
        var configuration = CheckConfiguration.FromHost(HostPresets.SkylakeSp, KernelProfile.Linux6_18);
        var model = new KvmEquivalenceModel(configuration, KvmAlphabet.For(configuration, EquivalenceBounds.Chain));

        var result = model.Explore(options, cancellation.Token);

        Assert.Equal(SearchOutcome.Cancelled, result.Outcome);
        var last = levels[^1];
        Assert.Equal(new ExplorationStatistics(last.States, last.Transitions, last.Depth, null), result.Statistics);
    }
}
