using BenchmarkDotNet.Attributes;
using CpuidFunctional.Bench.Measurement;
using CpuidFunctional.Bench.Mutable;
using CpuidFunctional.Interpreter.Harness;
using CpuidFunctional.Interpreter.Machine;

namespace CpuidFunctional.Bench.Benchmarks;

/// <summary>
/// One nested round trip per workload and policy on Skylake-SP (the SVM workloads on Genoa, <see cref="Workloads.HostFor"/>): the functional interpreter under Eager, Lazy and
/// Reference, and the mutable baseline (mutable-eager, mutable-lazy), through the same warm decode cache. Each
/// invocation runs a booted machine for <see cref="RoundTrips"/> round trips (set-up included); results are per round trip.
/// The machines of an iteration are booted before it, unmeasured, one per invocation: with a single invocation per
/// iteration (what <c>[IterationSetup]</c> gives by default) an iteration of the fastest row lasts ~1.5 ms, far below
/// the 100 ms BenchmarkDotNet needs to time it.
/// </summary>
[MemoryDiagnoser]
[JsonExporterAttribute.Full]
[InvocationCount(MachinesPerIteration)]
public class RoundTripBenchmarks
{
    /// <summary>Round trips per invocation.</summary>
    public const int RoundTrips = 5_000;

    /// <summary>Invocations per iteration, each on its own machine: ~300 ns × 5,000 × 96 ≈ 140 ms for the fastest row.</summary>
    public const int MachinesPerIteration = 96;

    private Experiment experiment = null!;
    private BenchPolicy policy = null!;
    private Machine[] functional = [];
    private MutableMachine[] mutable = [];
    private int next;

    /// <summary>The workload.</summary>
    [Params("cpuid-loop", "kvm-like-l1", "l1-cpuid", "cr4-toggle", "svm-cpuid-loop", "svm-cpuid-l0")]
    public string Workload { get; set; } = "cpuid-loop";

    /// <summary>The policy (functional Core policy or mutable baseline).</summary>
    [Params("eager", "lazy", "reference", "mutable-eager", "mutable-lazy")]
    public string Policy { get; set; } = "lazy";

    /// <summary>Builds the program and warms the decode cache.</summary>
    [GlobalSetup]
    public void Setup()
    {
        experiment = new Experiment(Workload, HostPresets.SkylakeSp, RoundTrips, new DecodeCache());
        policy = BenchPolicy.All.Single(p => p.Name == Policy);
        Measurer.RunOnce(experiment, policy);
    }

    /// <summary>Boots a fresh vCPU and machine for each invocation of the iteration (not measured: the mutable machine allocates its guest memory here).</summary>
    [IterationSetup]
    public void Boot()
    {
        next = 0;
        if (policy.Functional is { } p)
        {
            functional = [.. Enumerable.Range(0, MachinesPerIteration).Select(_ => experiment.BootFunctional(p))];
        }
        else
        {
            mutable = [.. Enumerable.Range(0, MachinesPerIteration).Select(_ => experiment.BootMutable(policy.Mutable!.Value))];
        }
    }

    /// <summary>Runs the next booted machine's workload to its HLT.</summary>
    [Benchmark(OperationsPerInvoke = RoundTrips)]
    public long RoundTrip()
    {
        var machine = next++;
        return policy.Functional is { } p
            ? Runner.Run(p, functional[machine], experiment.StepBudget, experiment.Cache).Steps
            : mutable[machine].Run(experiment.StepBudget) is StopReason.Halted ? mutable[machine].Steps : -1;
    }
}
