using CpuidFunctional.Bench.Mutable;
using CpuidFunctional.Interpreter.Harness;
using CpuidFunctional.Interpreter.Machine;

namespace CpuidFunctional.Bench.Measurement;

/// <summary>
/// One workload program on one host, ready to run under any policy: the program, its booted memory image (shared, so
/// every run fetches from the same page objects and the shared decode cache stays warm), the VM and the guest table.
/// </summary>
internal sealed class Experiment
{
    private readonly GuestMemory image;
    private readonly Interpreter.Machine.Program program;

    /// <summary>
    /// Builds the workload <paramref name="workload"/> with <paramref name="roundTrips"/> round trips, on
    /// <paramref name="host"/> or, for an SVM workload on a host without SVM, on the host <see cref="Workloads.HostFor"/> picks.
    /// </summary>
    public Experiment(string workload, HostCpu host, int roundTrips, DecodeCache cache)
        : this(
            workload,
            Workloads.ByName(workload, roundTrips) ?? throw new ArgumentException($"unknown workload '{workload}'", nameof(workload)),
            Workloads.HostFor(workload, host),
            roundTrips,
            cache
        ) { }

    /// <summary>Any program (the tests use programs that fail VM entry) under the name <paramref name="workload"/>.</summary>
    public Experiment(string workload, Interpreter.Machine.Program program, HostCpu host, int roundTrips, DecodeCache cache)
    {
        Workload = workload;
        RoundTrips = roundTrips;
        this.program = program;
        Vm = new Vm(host);
        Guest = GuestCpuid.For(host);
        Cache = cache;
        image = Machine.Boot(program, KvmState.Create(Vm, Policy.Eager)).Memory;
        StepBudget = Workloads.StepBudget(roundTrips);
    }

    /// <summary>The workload's name.</summary>
    public string Workload { get; }

    /// <summary>Round trips the program makes.</summary>
    public int RoundTrips { get; }

    /// <summary>The VM (host and kernel profile).</summary>
    public Vm Vm { get; }

    /// <summary>The guest CPUID table installed before the run.</summary>
    public CpuidTable Guest { get; }

    /// <summary>The decode cache every run of this experiment shares.</summary>
    public DecodeCache Cache { get; }

    /// <summary>The step limit of a run.</summary>
    public long StepBudget { get; }

    /// <summary>A functional machine ready to run (vCPU created, table installed, program loaded).</summary>
    public Machine BootFunctional(Policy policy) =>
        Machine.Boot(program, KvmState.WithCpuid(Vm, policy, Guest)) with { Memory = image };

    /// <summary>A mutable machine ready to run.</summary>
    public MutableMachine BootMutable(MutableMode mode, MutableLog? record = null) =>
        new(image, program.Bytes.Length, new MutableKvm(Vm, mode, Guest), Cache) { Record = record };
}
