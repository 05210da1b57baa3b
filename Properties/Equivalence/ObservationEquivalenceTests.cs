using CpuidFunctional.Core.Model;
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
            iter: 40_000,
            print: t => Lockstep.Explain(t, Policy.Correct)
        );
}
