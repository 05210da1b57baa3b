namespace CpuidFunctional.Bench.Measurement;

/// <summary>One timed run of a workload under one policy.</summary>
/// <param name="Nanoseconds">Wall time of the run (Stopwatch).</param>
/// <param name="CpuNanoseconds">CPU time the running thread used (NaN where unavailable).</param>
/// <param name="Bytes">Bytes allocated on the running thread during the run.</param>
/// <param name="Instructions">Instructions the interpreter executed.</param>
/// <param name="RuntimeUpdates">Runs of <c>kvm_update_cpuid_runtime</c> (Reference: recomputations for an observation).</param>
/// <param name="XstateSizeComputations">Calls of <c>xstate_required_size</c>.</param>
/// <param name="LastOut">The last value the program reported with OUT (L1's own CPUID.1:ECX).</param>
internal readonly record struct RunSample(double Nanoseconds, double CpuNanoseconds, long Bytes, long Instructions, long RuntimeUpdates, long XstateSizeComputations, uint LastOut);
