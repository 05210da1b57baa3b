using CpuidFunctional.Core.Checking;
using CpuidFunctional.Properties.Generators;
using CsCheck;

namespace CpuidFunctional.Properties.Equivalence;

/// <summary>Property 1: Eager, Lazy and Reference give identical observations at every event of every trace.</summary>
public class ObservationEquivalenceTests
{
    [Fact]
    public void Eager_lazy_and_reference_observe_the_same_at_every_event() =>
        TraceGen.Trace.Sample(
            t => Lockstep.Agree(t, Policy.Correct),
            iter: Budget.Iter(60_000),
            print: t => Lockstep.Explain(t, Policy.Correct)
        );

    [Fact]
    public void Eager_lazy_and_reference_agree_after_long_bursts_of_pending_changes() =>
        TraceGen.PendingBursts.Sample(
            t => Lockstep.Agree(t, Policy.Correct),
            iter: Budget.Iter(10_000),
            print: t => Lockstep.Explain(t, Policy.Correct)
        );

    [Fact]
    public void Eager_lazy_and_reference_agree_on_the_preset_hosts() =>
        TraceGen.On(HostGen.Preset, new TraceShape.Segments(6))
            .Select(MwaitQuirkGuard.Apply)
            .Sample(t => Lockstep.Agree(t, Policy.Correct), iter: Budget.Iter(10_000), print: t => Lockstep.Explain(t, Policy.Correct));
}
