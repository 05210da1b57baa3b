using System.Diagnostics;
using System.Runtime;

namespace CpuidFunctional.Bench.Measurement;

/// <summary>
/// Runs the experiment: every (workload, policy) pair, warm-up first (until the JIT has settled, <see cref="WarmUp"/>),
/// then the repetitions interleaved across policies (so drift on a shared machine hits every policy alike), timed with
/// <see cref="Stopwatch"/> and <see cref="GC.GetAllocatedBytesForCurrentThread"/> around the run only (booting the
/// vCPU is outside). Before each timed run: a full collection, then as much as the policy's previous run allocated
/// and one gen0 budget more allocated and dropped (<see cref="Gen0Budget.Touch"/>), so no run pays for mapping
/// memory again that the GC gave back while another ran.
/// </summary>
internal static class Measurer
{
    /// <summary>Round trips of the two short runs the per-round-trip counts are taken from (their difference).</summary>
    private const int ShortRun = 16;

    /// <summary>Runs one workload under one policy once.</summary>
    public static RunSample RunOnce(Experiment x, BenchPolicy policy)
    {
        if (policy.Functional is { } functional)
        {
            var machine = x.BootFunctional(functional);
            var meter = Meter.Start();
            var result = Runner.Run(functional, machine, x.StepBudget, x.Cache);
            var cost = meter.Read();
            Check(x, policy, result.Stop);
            var lastOut = result.Outputs.Count == 0 ? 0 : result.Outputs[^1].Value;
            return new RunSample(cost, result.Steps, result.Effort.RuntimeUpdates, result.Effort.XstateSizeComputations, lastOut);
        }
        var m = x.BootMutable(policy.Mutable!.Value);
        var (updates0, sizes0) = (m.Kvm.RuntimeUpdates, m.Kvm.XstateSizeComputations);
        var mutableMeter = Meter.Start();
        var stop = m.Run(x.StepBudget);
        var mutableCost = mutableMeter.Read();
        Check(x, policy, stop);
        return new RunSample(mutableCost, m.Steps, m.Kvm.RuntimeUpdates - updates0, m.Kvm.XstateSizeComputations - sizes0, m.LastOut);
    }

    /// <summary>The counters read around a timed run: the clock last before it and first after it.</summary>
    internal readonly record struct Meter(long Bytes, TimeSpan GcPause, double Cpu, long Timestamp)
    {
        public static Meter Start() =>
            new(GC.GetAllocatedBytesForCurrentThread(), GC.GetTotalPauseDuration(), ThreadCpuClock.Now(), Stopwatch.GetTimestamp());

        public RunCost Read()
        {
            var elapsed = Stopwatch.GetElapsedTime(Timestamp);
            var cpu = ThreadCpuClock.Now() - Cpu;
            return new RunCost(
                elapsed.TotalNanoseconds,
                cpu,
                GC.GetAllocatedBytesForCurrentThread() - Bytes,
                (GC.GetTotalPauseDuration() - GcPause).TotalNanoseconds);
        }
    }

    private static void Check(Experiment x, BenchPolicy policy, StopReason stop)
    {
        if (stop is not StopReason.Halted)
        {
            throw new InvalidOperationException($"{x.Workload} under {policy.Name} did not finish: {stop}");
        }
    }

    /// <summary>Exact marginal counts per round trip: a run of 2·n round trips minus a run of n, divided by n.</summary>
    public static (double Updates, double Sizes, double Instructions) MarginalCounts(string workload, HostCpu host, BenchPolicy policy, DecodeCache cache)
    {
        var one = RunOnce(new Experiment(workload, host, ShortRun, cache), policy);
        var two = RunOnce(new Experiment(workload, host, 2 * ShortRun, cache), policy);
        return (
            (two.RuntimeUpdates - one.RuntimeUpdates) / (double)ShortRun,
            (two.XstateSizeComputations - one.XstateSizeComputations) / (double)ShortRun,
            (two.Instructions - one.Instructions) / (double)ShortRun
        );
    }

    /// <summary>
    /// Measures every workload under every policy. <paramref name="progress"/> is told each finished run (for the
    /// progress display); the total is <c>workloads × policies × (warmup + repetitions)</c>.
    /// </summary>
    public static IReadOnlyList<Measurement> Measure(
        IReadOnlyList<string> workloads,
        IReadOnlyList<BenchPolicy> policies,
        HostCpu host,
        int roundTrips,
        int repetitions,
        int warmup,
        Action<string>? progress = null
    )
    {
        var rows = new List<Measurement>();
        foreach (var workload in workloads)
        {
            var cache = new DecodeCache();
            var experiment = new Experiment(workload, host, roundTrips, cache);
            var samples = policies.ToDictionary(p => p, _ => new List<RunSample>());
            // What each policy's last run allocated: the memory Gen0Budget.Touch maps before its next timed run.
            var runBytes = policies.ToDictionary(p => p, _ => 0L);
            WarmUp(
                warmup,
                MaxWarmupRounds,
                () => JitInfo.GetCompiledMethodCount(),
                round =>
                {
                    foreach (var policy in policies)
                    {
                        runBytes[policy] = RunOnce(experiment, policy).Cost.Bytes;
                        if (round < warmup)
                        {
                            progress?.Invoke($"{workload} warm-up");
                        }
                    }
                    Thread.Sleep(SettleMilliseconds);
                }
            );
            for (var r = 0; r < repetitions; r++)
            {
                // Rotate the order every repetition so no policy is always timed right after the same neighbour.
                for (var k = 0; k < policies.Count; k++)
                {
                    var policy = policies[(k + r) % policies.Count];
                    GC.Collect();
                    GC.WaitForPendingFinalizers();
                    Gen0Budget.Touch(runBytes[policy]);
                    var sample = RunOnce(experiment, policy);
                    samples[policy].Add(sample);
                    runBytes[policy] = sample.Cost.Bytes;
                    progress?.Invoke($"{workload} {policy.Name}");
                }
            }
            var times = policies.ToDictionary(p => p, p => Median(samples[p].Select(s => s.Cost.Nanoseconds)) / roundTrips);
            var cpuTimes = policies.ToDictionary(p => p, p => Median(samples[p].Select(s => s.Cost.CpuNanoseconds)) / roundTrips);
            var gcPauses = policies.ToDictionary(p => p, p => Median(samples[p].Select(s => s.Cost.GcPauseNanoseconds)) / roundTrips);
            var eager = times.TryGetValue(BenchPolicy.Eager, out var e) ? e : double.NaN;
            var eagerCpu = cpuTimes.TryGetValue(BenchPolicy.Eager, out var ec) ? ec : double.NaN;
            foreach (var policy in policies)
            {
                var (updates, sizes, instructions) = MarginalCounts(workload, host, policy, cache);
                rows.Add(
                    new Measurement(
                        workload,
                        policy.Name,
                        experiment.Vm.Host.Name,
                        roundTrips,
                        repetitions,
                        updates,
                        sizes,
                        instructions,
                        times[policy],
                        cpuTimes[policy],
                        Median(samples[policy].Select(s => (double)s.Cost.Bytes)) / roundTrips,
                        gcPauses[policy],
                        times[policy] / eager,
                        cpuTimes[policy] / eagerCpu
                    )
                );
            }
        }
        return rows;
    }

    /// <summary>
    /// A pause after each warm-up round, longer than the tiered JIT's call-counting delay (100 ms): methods are queued
    /// for tier 1 only after that long without new tier-0 code, which short rounds never gave them. Without it,
    /// <c>--workload svm-cpuid-loop --policy lazy --policy mutable-lazy</c> timed Mutable-Lazy at 1,114–1,351 ns in six
    /// runs of six; with it, 221–258 (as with <c>DOTNET_TC_CallCountingDelayMs=0</c>: 220).
    /// </summary>
    private const int SettleMilliseconds = 250;

    /// <summary>Most warm-up rounds a workload gets while the JIT is still compiling its code (see <see cref="WarmUp"/>).</summary>
    public const int MaxWarmupRounds = 20;

    /// <summary>
    /// Runs warm-up rounds (<paramref name="round"/>, numbered from 0): at least <paramref name="minimum"/>, then more
    /// while the JIT compiled something during the last one (<paramref name="compiledMethods"/>, the runtime's count of
    /// compiled methods), at most <paramref name="maximum"/>. Returns the rounds run. A fixed two rounds were not
    /// enough: the JIT went on compiling for 7–10 rounds of the first two workloads, and in four of six default console
    /// runs the first workload's mutable rows read 2–6x what they read in the other two.
    /// </summary>
    public static int WarmUp(int minimum, int maximum, Func<long> compiledMethods, Action<int> round)
    {
        var rounds = 0;
        while (rounds < maximum)
        {
            var before = compiledMethods();
            round(rounds++);
            if (rounds >= minimum && compiledMethods() == before)
            {
                break;
            }
        }
        return rounds;
    }

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        if (sorted.Length == 0)
        {
            return double.NaN;
        }
        var mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }
}
