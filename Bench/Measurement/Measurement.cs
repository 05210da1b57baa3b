namespace CpuidFunctional.Bench.Measurement;

/// <summary>One row of the table and of the JSON: a workload under a policy.</summary>
/// <param name="Workload">The workload's name.</param>
/// <param name="Policy">The policy's name.</param>
/// <param name="Host">The host preset the workload ran on (the SVM workloads run on an AMD host).</param>
/// <param name="RoundTrips">Round trips per timed run.</param>
/// <param name="Repetitions">Timed runs (after warm-up); the time is their median.</param>
/// <param name="RuntimeUpdatesPerRoundTrip">Marginal runtime CPUID updates per round trip (exact: from two short runs).</param>
/// <param name="XstateSizeComputationsPerRoundTrip">Marginal XSAVE-size computations per round trip.</param>
/// <param name="InstructionsPerRoundTrip">Marginal interpreted instructions per round trip (L1 and L2).</param>
/// <param name="NanosecondsPerRoundTrip">Median wall time of a run divided by its round trips (set-up included).</param>
/// <param name="CpuNanosecondsPerRoundTrip">Median thread CPU time of a run divided by its round trips (not counting time spent waiting for a core).</param>
/// <param name="BytesPerRoundTrip">Median bytes allocated by a run divided by its round trips.</param>
/// <param name="GcPauseNanosecondsPerRoundTrip">
/// Median time the runtime paused for collections during a run, divided by its round trips: the part of the two
/// times above that the GC took.
/// </param>
/// <param name="RelativeToEager">This policy's wall time over the functional Eager wall time of the same workload.</param>
/// <param name="CpuRelativeToEager">The same ratio in thread CPU time.</param>
internal sealed record Measurement(
    string Workload,
    string Policy,
    string Host,
    int RoundTrips,
    int Repetitions,
    double RuntimeUpdatesPerRoundTrip,
    double XstateSizeComputationsPerRoundTrip,
    double InstructionsPerRoundTrip,
    double NanosecondsPerRoundTrip,
    double CpuNanosecondsPerRoundTrip,
    double BytesPerRoundTrip,
    double GcPauseNanosecondsPerRoundTrip,
    double RelativeToEager,
    double CpuRelativeToEager
);
