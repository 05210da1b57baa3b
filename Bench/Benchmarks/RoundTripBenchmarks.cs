using BenchmarkDotNet.Attributes;
using CpuidFunctional.Bench.Measurement;
using CpuidFunctional.Bench.Mutable;
using CpuidFunctional.Interpreter.Machine;

namespace CpuidFunctional.Bench.Benchmarks;

/// <summary>
/// One nested round trip per workload and policy on Skylake-SP: the functional interpreter under Eager, Lazy and
/// Reference, and the mutable baseline (Mutable-Eager, Mutable-Lazy), through the same warm decode cache. Each
/// invocation runs a booted machine for <see cref="RoundTrips"/> round trips (set-up included); results are per round trip.
/// </summary>
[MemoryDiagnoser]
[MarkdownExporterAttribute.GitHub]
[JsonExporterAttribute.Full]
public class RoundTripBenchmarks
{
    /// <summary>Round trips per invocation.</summary>
    public const int RoundTrips = 5_000;

    private Experiment experiment = null!;
    private BenchPolicy policy = null!;
    private Machine functional;
    private MutableMachine? mutable;

    /// <summary>The workload.</summary>
    [Params("cpuid-loop", "kvm-like-l1", "l1-cpuid", "cr4-toggle")]
    public string Workload { get; set; } = "cpuid-loop";

    /// <summary>The policy (functional Core policy or mutable baseline).</summary>
    [Params("Eager", "Lazy", "Reference", "Mutable-Eager", "Mutable-Lazy")]
    public string Policy { get; set; } = "Lazy";

    /// <summary>Builds the program and warms the decode cache.</summary>
    [GlobalSetup]
    public void Setup()
    {
        experiment = new Experiment(Workload, HostPresets.SkylakeSp, RoundTrips, new DecodeCache());
        policy = BenchPolicy.All.Single(p => p.Name == Policy);
        Measurer.RunOnce(experiment, policy);
    }

    /// <summary>Boots a fresh vCPU and machine (not measured: the mutable machine allocates its guest memory here).</summary>
    [IterationSetup]
    public void Boot()
    {
        if (policy.Functional is { } p)
        {
            functional = experiment.BootFunctional(p);
        }
        else
        {
            mutable = experiment.BootMutable(policy.Mutable!.Value);
        }
    }

    /// <summary>Runs the workload to its HLT.</summary>
    [Benchmark(OperationsPerInvoke = RoundTrips)]
    public long RoundTrip() =>
        policy.Functional is { } p
            ? Runner.Run(p, functional, experiment.StepBudget, experiment.Cache).Steps
            : mutable!.Run(experiment.StepBudget) is StopReason.Halted ? mutable.Steps : -1;
}
