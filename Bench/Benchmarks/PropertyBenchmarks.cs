using BenchmarkDotNet.Attributes;
using CpuidFunctional.Core.Checking;

namespace CpuidFunctional.Bench.Benchmarks;

/// <summary>
/// Throughput of the main equivalence property: random traces from the suite's distribution
/// (<see cref="RandomTraceGenerator"/>, every host preset, kernels 6.15 and 6.18, seed 1) run under Eager, Lazy and
/// Reference in lock-step with their observations compared after every event (<see cref="EventTrace.FirstDivergence"/>,
/// what <c>cpuidf random</c> and the property tests do per trace). Both methods do the same work: <see cref="PerTrace"/>
/// reports the time per trace, <see cref="PerEvent"/> per event (traces/s and events/s are their reciprocals).
/// </summary>
/// <remarks>
/// To make the event count a constant, the set keeps only traces of full length (the KVM_SET_CPUID2 and KVM_RUN
/// prologue and <see cref="RandomTraceGenerator.DefaultLength"/> events: those the MWAIT-quirk rule left whole).
/// </remarks>
[MemoryDiagnoser]
[JsonExporterAttribute.Full]
public class PropertyBenchmarks
{
    /// <summary>Traces per invocation.</summary>
    public const int Traces = 250;

    /// <summary>Events per trace: the prologue and the body.</summary>
    public const int EventsPerTrace = RandomTraceGenerator.DefaultLength + 2;

    private EventTrace[] traces = [];

    /// <summary>The first <see cref="Traces"/> full-length traces of seed 1.</summary>
    [GlobalSetup]
    public void Setup()
    {
        var generator = new RandomTraceGenerator([.. HostPresets.All.Values], [KernelProfile.Linux6_15, KernelProfile.Linux6_18]);
        traces = [.. Enumerable.Range(0, 100 * Traces)
            .Select(k => generator.Generate(1, k))
            .Where(t => t.Events.Count == EventsPerTrace)
            .Take(Traces)];
        if (traces.Length != Traces)
        {
            throw new InvalidOperationException($"only {traces.Length} full-length traces in {100 * Traces} draws");
        }
    }

    /// <summary>Time per trace (three policies folded and compared).</summary>
    [Benchmark(OperationsPerInvoke = Traces)]
    public int PerTrace() => CheckAll();

    /// <summary>Time per event (one Step under each of three policies and a comparison).</summary>
    [Benchmark(OperationsPerInvoke = Traces * EventsPerTrace)]
    public int PerEvent() => CheckAll();

    private int CheckAll()
    {
        var divergent = 0;
        foreach (var trace in traces)
        {
            divergent += trace.FirstDivergence(Policy.Correct) is null ? 0 : 1;
        }
        return divergent == 0 ? Traces : throw new InvalidOperationException($"{divergent} traces diverge");
    }
}
