using CpuidFunctional.Core.Checking;
using CpuidFunctional.Core.Checking.Yardstick;

namespace CpuidFunctional.Properties.Checking;

/// <summary>The shared yardstick (shared/modelcheck): the same counts and counterexample as SPIN, CsCheck's Spec and a plain BFS.</summary>
public class YardstickTests(ITestOutputHelper output)
{
    private static ExplorationResult<YardstickState, YardstickEvent, YardstickObservation> Explore(YardstickModel model, int parallelism = 0) =>
        Explorer.Explore<YardstickState, YardstickEvent, YardstickObservation, YardstickModel>(
            model,
            new ExplorationOptions { Clock = TimeProvider.System, Parallelism = parallelism },
            TestContext.Current.CancellationToken
        );

    [Fact]
    public void With_the_quirk_guard_the_whole_space_has_the_yardstick_counts_and_lazy_equals_eager()
    {
        var result = Explore(new YardstickModel(YardstickModel.SkylakeSpLayout));
        output.WriteLine(result.ToString());

        Assert.Equal(SearchOutcome.Complete, result.Outcome);
        Assert.Equal(4_756_480, result.Statistics.States);
        Assert.Equal(78_528_512, result.Statistics.Transitions);
        Assert.Equal(18, result.Statistics.Depth);
    }

    [Fact]
    public void Without_the_quirk_guard_the_shortest_counterexample_is_the_four_step_mwait_trace()
    {
        var result = Explore(new YardstickModel(YardstickModel.SkylakeSpLayout, quirkGuard: false));
        output.WriteLine(result.ToString());

        Assert.Equal(SearchOutcome.Violated, result.Outcome);
        Assert.Equal(
            [
                YardstickEventKind.ToggleCr4OsXsave,
                YardstickEventKind.ToggleMiscEnableMwait,
                YardstickEventKind.DisableMwaitQuirk,
                YardstickEventKind.Cpuid,
            ],
            result.Counterexample!.Events.Select(e => e.Kind)
        );
        Assert.Equal("MWAIT: lazy 1, eager 0", result.Counterexample.Violation);
    }

    [Fact]
    public void One_worker_and_many_workers_number_states_alike_and_find_the_same_trace()
    {
        var model = new YardstickModel(YardstickModel.SkylakeSpLayout, quirkGuard: false);

        var one = Explore(model, parallelism: 1);
        var four = Explore(model, parallelism: 4);

        // States are counted per whole level, transitions up to the violating pair in (parent, event) order.
        Assert.Equal(1_801, one.Statistics.States);
        Assert.Equal(one.Statistics with { Elapsed = null }, four.Statistics with { Elapsed = null });
        Assert.Equal(one.Counterexample!.Events, four.Counterexample!.Events);
    }
}
