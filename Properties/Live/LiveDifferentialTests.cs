using System.Diagnostics;
using System.Globalization;
using CpuidFunctional.Oracle;
using CsCheck;

namespace CpuidFunctional.Properties.Live;

/// <summary>
/// Random traces over the events this kernel supports, inside the fences probed on it, run on the live kernel and
/// on the model (this kernel's profile, Lazy and Eager); every observation must be identical. A failure prints the
/// shrunk trace with both sides' values and the CsCheck seed.
/// </summary>
public class LiveDifferentialTests
{
    /// <summary>Traces in the default run; <c>CPUIDF_LIVE_TRACES</c> sets another count (the long run uses 100000).</summary>
    public const int DefaultTraces = 10_000;

    /// <summary>The default inside the QEMU TCG guest, where every instruction is emulated (docs/live-kernel.md).</summary>
    public const int DefaultTracesUnderTcg = 2_000;

    [Fact]
    public void Model_and_live_kernel_agree_at_every_observation_of_random_traces()
    {
        using var kvm = LiveKernel.OpenOrSkip();
        var caps = kvm.Probe();
        var host = LiveKernel.Host(kvm);
        var supported = LiveKernel.Supported(kvm);
        var fences = KernelFences.ForThisKernel(kvm, host, supported);
        var output = TestContext.Current.TestOutputHelper;
        output?.WriteLine(fences.ToString());
        var count = TraceCount();
        var traces = 0;
        var observations = 0;

        LiveComparison Run(LiveTrace trace)
        {
            var created = LiveKvmTarget.Create(kvm, supported, trace.DisabledQuirks, trace.DisabledExits, trace.InKernelApic);
            if (created is IoctlResult<LiveKvmTarget>.Failed f)
            {
                Assert.Fail($"set-up of the live vCPU failed: {f}");
            }
            using var target = ((IoctlResult<LiveKvmTarget>.Ok)created).Value;
            return LiveComparison.Run(target, host, trace.Steps, (step, lazy) => LiveTraceGen.Resolve(step, lazy, target, fences));
        }

        var clock = Stopwatch.StartNew();
        LiveTraceGen
            .Traces(fences, caps, supported)
            .Sample(
                trace =>
                {
                    var c = Run(trace);
                    Interlocked.Increment(ref traces);
                    Interlocked.Add(ref observations, c.Observations);
                    return c.Agrees && c.Rows.All(r => r.Kernel is LiveResult.Observed);
                },
                iter: count,
                threads: 1,
                print: trace => trace + "\n" + fences + "\nrun (disagreeing steps marked '*'):\n" + Run(trace).Report()
            );
        var seconds = clock.Elapsed.TotalSeconds;
        // One line a reader (and the TCG harness) can find: what was compared, where, how fast.
        var summary = string.Create(
            CultureInfo.InvariantCulture,
            $"live differential: {traces} traces, {observations} observations, 0 differences on {fences.Kernel}; {traces / seconds:F0} traces/s"
        );
        output?.WriteLine(summary);
        Console.WriteLine(summary);
        Assert.True(observations > traces, $"{observations} observations in {traces} traces: the traces observe too little");
    }

    private static int TraceCount()
    {
        var text = Environment.GetEnvironmentVariable("CPUIDF_LIVE_TRACES");
        if (string.IsNullOrEmpty(text))
        {
            return LiveKernel.UnderTcg ? DefaultTracesUnderTcg : DefaultTraces;
        }
        return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0
            ? n
            : throw new ArgumentException($"CPUIDF_LIVE_TRACES={text}: expected a positive whole number of traces");
    }
}
