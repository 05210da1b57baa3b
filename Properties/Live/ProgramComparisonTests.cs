using CpuidFunctional.Oracle;

namespace CpuidFunctional.Properties.Live;

/// <summary>How the live program comparison counts and matches observations. Runs everywhere, KVM or not.</summary>
public class ProgramComparisonTests
{
    private static readonly LiveOutput A = new(0x81, 0x7EF8_3203, 4);
    private static readonly LiveOutput B = new(0x80, 0x81, 4);

    private static ProgramComparison Comparison(LiveOutput[] model, FinalStop modelStop, LiveOutput[] live, FinalStop liveStop) =>
        new("p.asm", System.Collections.Immutable.ImmutableArray.Create(model), modelStop, System.Collections.Immutable.ImmutableArray.Create(live), liveStop);

    [Fact]
    public void Every_OUT_position_and_the_stop_is_one_observation_and_equal_ones_agree()
    {
        var c = Comparison([A, B], new FinalStop.Halted(0x1040), [A, B], new FinalStop.Halted(0x1040));
        Assert.Equal(3, c.Compared);
        Assert.Empty(c.Differences);
        Assert.Equal("p.asm: 3 compared, 3 agree, 0 differ", c.Summary);
    }

    [Fact]
    public void An_OUT_only_one_side_made_and_a_different_stop_are_differences()
    {
        var c = Comparison([A, B], new FinalStop.Halted(0x1040), [A], new FinalStop.Shutdown());
        Assert.Equal(3, c.Compared);
        Assert.Equal(["OUT 1: model out 0x80 <- 0x81 (4), kernel nothing", "stop: model HLT at 0x1040, kernel shutdown"], c.Differences);
    }

    [Fact]
    public void KVMs_HLT_exit_reports_the_RIP_after_the_HLT_and_the_interpreter_the_HLT_itself()
    {
        Assert.Equal(FinalStop.Of(new StopReason.Halted(0x103F)), FinalStop.Of(new LiveStop.Halted(0x1040)));
    }

    [Fact]
    public void A_fault_L1_cannot_deliver_is_the_kernels_shutdown_but_an_L2_fault_nobody_takes_is_not()
    {
        Assert.Equal(new FinalStop.Shutdown(), FinalStop.Of(new StopReason.UnhandledFault(1, 0x1000, X86Exception.GP)));
        Assert.Equal(new FinalStop.Shutdown(), FinalStop.Of(new LiveStop.Shutdown(0x1000)));
        Assert.IsType<FinalStop.Other>(FinalStop.Of(new StopReason.UnhandledFault(2, 0x1000, X86Exception.GP)));
    }

    [Fact]
    public void A_runner_failure_never_equals_an_interpreter_stop()
    {
        Assert.NotEqual(FinalStop.Of(new StopReason.StepLimit(10)), FinalStop.Of(new LiveStop.Failed("KVM_RUN failed")));
    }
}
