using CpuidFunctional.Bench.Measurement;

namespace CpuidFunctional.Properties.Bench;

/// <summary>
/// The console warms a workload up until the JIT has settled: at least the requested rounds, then more while the
/// runtime's compiled-method count still moved during the last round, never more than the cap.
/// </summary>
public class WarmUpTests
{
    /// <summary>Runs <see cref="Measurer.WarmUp"/> against a fake JIT that compiles during the first <paramref name="busyRounds"/> rounds.</summary>
    private static (int Rounds, List<int> Seen) WarmUp(int minimum, int maximum, int busyRounds)
    {
        var compiled = 100L;
        var seen = new List<int>();
        var rounds = Measurer.WarmUp(
            minimum,
            maximum,
            () => compiled,
            round =>
            {
                seen.Add(round);
                compiled += round < busyRounds ? 7 : 0;
            }
        );
        return (rounds, seen);
    }

    [Fact]
    public void A_settled_JIT_gets_exactly_the_requested_rounds()
    {
        var (rounds, seen) = WarmUp(minimum: 2, maximum: 20, busyRounds: 0);
        Assert.Equal(2, rounds);
        Assert.Equal([0, 1], seen);
    }

    [Fact]
    public void Warm_up_goes_on_while_the_JIT_compiles_and_ends_after_the_first_quiet_round()
    {
        var (rounds, seen) = WarmUp(minimum: 2, maximum: 20, busyRounds: 6);
        Assert.Equal(7, rounds);
        Assert.Equal(Enumerable.Range(0, 7), seen);
    }

    [Fact]
    public void A_JIT_that_never_settles_stops_at_the_cap()
    {
        var (rounds, _) = WarmUp(minimum: 2, maximum: 20, busyRounds: int.MaxValue);
        Assert.Equal(20, rounds);
    }
}
