namespace CpuidFunctional.Bench.Measurement;

/// <summary>What a timed run cost, read around the run only.</summary>
/// <param name="Nanoseconds">Wall time of the run (Stopwatch).</param>
/// <param name="CpuNanoseconds">CPU time the running thread used (NaN where unavailable).</param>
/// <param name="Bytes">Bytes allocated on the running thread during the run.</param>
/// <param name="GcPauseNanoseconds">
/// Time the runtime paused the process for collections during the run (<see cref="GC.GetTotalPauseDuration"/>): a
/// gen0 collection runs on the allocating thread, so this is part of both times above.
/// </param>
internal readonly record struct RunCost(double Nanoseconds, double CpuNanoseconds, long Bytes, double GcPauseNanoseconds);

/// <summary>One timed run of a workload under one policy.</summary>
/// <param name="Cost">Its time, bytes and GC pauses.</param>
/// <param name="Instructions">Instructions the interpreter executed.</param>
/// <param name="RuntimeUpdates">Runs of <c>kvm_update_cpuid_runtime</c> (Reference: recomputations for an observation).</param>
/// <param name="XstateSizeComputations">Calls of <c>xstate_required_size</c>.</param>
/// <param name="LastOut">The last value the program reported with OUT (L1's own CPUID.1:ECX).</param>
internal readonly record struct RunSample(RunCost Cost, long Instructions, long RuntimeUpdates, long XstateSizeComputations, uint LastOut);
