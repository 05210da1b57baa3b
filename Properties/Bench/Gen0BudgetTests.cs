using CpuidFunctional.Bench.Measurement;

namespace CpuidFunctional.Properties.Bench;

/// <summary>
/// The console reports the GC's gen0 budget under its table, and says what to do when the budget is small enough to
/// distort the functional rows (a VM that hides its CPU caches gets about 2 MB).
/// </summary>
public class Gen0BudgetTests
{
    [Fact]
    public void A_two_megabyte_budget_is_called_small_with_the_variable_that_raises_it()
    {
        var line = Gen0Budget.Line(2L << 20);
        Assert.Contains("every 2.0 MB", line, StringComparison.Ordinal);
        Assert.Contains("DOTNET_GCgen0size=0x2000000", line, StringComparison.Ordinal);
    }

    [Fact]
    public void A_cache_sized_budget_is_reported_without_advice()
    {
        var line = Gen0Budget.Line(32L << 20);
        Assert.Equal("GC: gen0 was collected every 32.0 MB allocated.", line);
    }

    [Fact]
    public void The_advice_starts_just_below_eight_megabytes()
    {
        Assert.Contains("DOTNET_GCgen0size", Gen0Budget.Line(Gen0Budget.Small - 1), StringComparison.Ordinal);
        Assert.DoesNotContain("DOTNET_GCgen0size", Gen0Budget.Line(Gen0Budget.Small), StringComparison.Ordinal);
    }

    [Fact]
    public void A_run_without_a_collection_says_so() =>
        Assert.Equal("GC: no gen0 collection yet in this process.", Gen0Budget.Line(null));

    [Fact]
    public void Touch_allocates_one_budget_of_small_arrays_before_a_timed_run()
    {
        var budget = Gen0Budget.Observed() ?? 2L << 20;
        var before = GC.GetAllocatedBytesForCurrentThread();
        Gen0Budget.Touch();
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.InRange(allocated, budget, budget + (budget / 64) + 4096);
    }

    [Fact]
    public void Touch_allocates_what_the_coming_run_allocates_and_one_budget_more()
    {
        var budget = Gen0Budget.Observed() ?? 2L << 20;
        var runBytes = (4 * budget) + 12_345;
        var before = GC.GetAllocatedBytesForCurrentThread();
        Gen0Budget.Touch(runBytes);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        var expected = runBytes + budget;
        Assert.InRange(allocated, expected, expected + (expected / 64) + 4096);
    }
}
