using System.Runtime.CompilerServices;
using System.Text.Json;
using CpuidFunctional.Bench.Console;
using CpuidFunctional.Bench.Measurement;
using CpuidFunctional.Interpreter.Decoding;

namespace CpuidFunctional.Properties.Bench;

/// <summary>
/// A timed run's result arrays (a byte or two per event and per observation) must not be large objects in the
/// console's process: the full collection before each timed run gives the large-object heap's memory back, and
/// every run would map it again.
/// The console sets the threshold in its runtime configuration and says so under its table.
/// </summary>
public class LargeObjectsTests
{
    private static long ConsoleThreshold()
    {
        var path = Path.Combine(AppContext.BaseDirectory, "CpuidFunctional.Bench.runtimeconfig.json");
        using var json = JsonDocument.Parse(File.ReadAllText(path));
        return json.RootElement.GetProperty("runtimeOptions").GetProperty("configProperties").GetProperty("System.GC.LOHThreshold").GetInt64();
    }

    private static long LargestResultArray(string workload)
    {
        var x = new Experiment(workload, HostPresets.SkylakeSp, BenchCli.DefaultRoundTrips, new DecodeCache());
        var result = Runner.Run(Policy.Lazy, x.BootFunctional(Policy.Lazy), x.StepBudget, x.Cache);
        // An array: its elements plus the object header and length.
        static long Bytes(int count, int size) => (count * (long)size) + (3 * IntPtr.Size);
        var traceCodes = Bytes(result.Trace.Count, DictionaryArray<VcpuEvent>.CodeWidth(result.Trace.Distinct.Length));
        var observationCodes = Bytes(result.Observations.Count, DictionaryArray<RunObservation>.CodeWidth(result.Observations.Distinct.Length));
        return new[] { traceCodes, observationCodes, Bytes(result.Outputs.Count, Unsafe.SizeOf<PortOutput>()) }.Max();
    }

    [Theory]
    [InlineData("kvm-like-l1")]
    public void A_default_run_returns_arrays_the_console_keeps_out_of_the_large_object_heap(string workload)
    {
        var largest = LargestResultArray(workload);
        Assert.True(largest > LargeObjects.DefaultThreshold, $"{workload}: the largest result array is {largest:N0} bytes, not a large object even by default");
        Assert.True(largest < ConsoleThreshold(), $"{workload}: the largest result array ({largest:N0} bytes) is a large object under the console's threshold {ConsoleThreshold():N0}");
    }

    [Theory]
    [InlineData("cpuid-loop")]
    [InlineData("l1-cpuid")]
    [InlineData("svm-cpuid-loop")]
    public void A_loop_of_up_to_four_events_a_round_trip_returns_no_large_object_even_by_default(string workload)
    {
        // 40,000 to 60,000 events and up to 20,000 observations, one byte each when dictionary-coded (as references
        // they were 320,000 to 480,000 and 160,000 bytes).
        var largest = LargestResultArray(workload);
        Assert.True(largest < LargeObjects.DefaultThreshold, $"{workload}: the largest result array is {largest:N0} bytes, a large object by default");
    }

    [Fact]
    public void The_console_reports_a_raised_threshold_in_megabytes() =>
        Assert.Equal(
            "GC: arrays go to the large-object heap from 8.0 MB on (System.GC.LOHThreshold), so a run's result arrays are allocated in gen0, mapped before each timed run.",
            LargeObjects.Line(8L << 20)
        );

    [Fact]
    public void Without_the_setting_the_console_warns_that_result_arrays_are_mapped_again()
    {
        Assert.Contains("85,000 bytes", LargeObjects.Line(null), StringComparison.Ordinal);
        Assert.Contains("mapped again in every timed run", LargeObjects.Line(null), StringComparison.Ordinal);
    }

    [Fact]
    public void The_test_host_without_the_setting_reads_as_the_default() =>
        Assert.Null(LargeObjects.Configured());

    [Theory]
    [InlineData("8388608", 8388608L)]
    [InlineData("0x800000", 8388608L)]
    [InlineData("0X1000000", 16777216L)]
    [InlineData("eight megabytes", null)]
    [InlineData("-1", null)]
    [InlineData(null, null)]
    public void A_configured_threshold_is_read_in_decimal_or_hexadecimal(string? text, long? expected) =>
        Assert.Equal(expected, LargeObjects.Parse(text));
}
