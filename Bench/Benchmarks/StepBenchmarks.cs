using BenchmarkDotNet.Attributes;
using CpuidFunctional.Bench.Measurement;

namespace CpuidFunctional.Bench.Benchmarks;

/// <summary>
/// <see cref="Kvm.Step"/> per event kind and policy on Skylake-SP. Trigger events alternate between two values so every
/// step really changes the state (results are per event: each invocation applies two).
/// </summary>
[MemoryDiagnoser]
[JsonExporterAttribute.Full]
public class StepBenchmarks
{
    private const ulong BaseCr4 = Cr4.Pae | Cr4.OsFxsr | Cr4.OsXmmExcpt | Cr4.Vmxe;

    private static readonly VcpuEvent Cr4On = new VcpuEvent.MovToCr4(BaseCr4 | Cr4.OsXsave | Cr4.Pke);
    private static readonly VcpuEvent Cr4Off = new VcpuEvent.MovToCr4(BaseCr4 | Cr4.OsXsave);
    private static readonly VcpuEvent XcrAvx = new VcpuEvent.Xsetbv(0, 0x7);
    private static readonly VcpuEvent XcrSse = new VcpuEvent.Xsetbv(0, 0x3);
    private static readonly VcpuEvent XssPt = new VcpuEvent.Wrmsr(Msr.Xss, 0x100);
    private static readonly VcpuEvent XssNone = new VcpuEvent.Wrmsr(Msr.Xss, 0);
    private static readonly VcpuEvent Cpuid1 = new VcpuEvent.Cpuid(1, 0);
    private static readonly VcpuEvent Entry = new VcpuEvent.NestedVmEntry(BaseCr4);
    private static readonly VcpuEvent Exit = new VcpuEvent.NestedVmExit(BaseCr4 | Cr4.OsXsave | Cr4.Pke);

    private Policy policy;
    private KvmState state;
    private bool flip; // which CR4 value the next Cr4ThenCpuid writes

    /// <summary>eager, lazy or reference (Policy.Name).</summary>
    [Params("eager", "lazy", "reference")]
    public string Policy { get; set; } = "lazy";

    /// <summary>A running vCPU with OSXSAVE, PKE and XCR0 = x87|SSE|AVX.</summary>
    [GlobalSetup]
    public void Setup()
    {
        policy = Core.Model.Policy.Correct.Single(p => p.Name == Policy);
        var vm = new Vm(HostPresets.SkylakeSp);
        state = KvmState.WithCpuid(vm, policy, GuestCpuid.For(vm.Host));
        foreach (var e in new VcpuEvent[] { new VcpuEvent.Run(), new VcpuEvent.SetSregs(BaseCr4, Msr.ApicBaseDefault), Cr4On, XcrAvx, Cpuid1 })
        {
            state = Kvm.Step(policy, state, e).State;
        }
    }

    private Observation? Pair(VcpuEvent a, VcpuEvent b)
    {
        state = Kvm.Step(policy, state, a).State;
        var t = Kvm.Step(policy, state, b);
        state = t.State;
        return t.Observation;
    }

    /// <summary>MOV CR4 flipping PKE (a trigger each time).</summary>
    [Benchmark(OperationsPerInvoke = 2)]
    public Observation? MovToCr4Trigger() => Pair(Cr4Off, Cr4On);

    /// <summary>XSETBV switching AVX (a trigger each time).</summary>
    [Benchmark(OperationsPerInvoke = 2)]
    public Observation? XsetbvTrigger() => Pair(XcrSse, XcrAvx);

    /// <summary>WRMSR IA32_XSS switching PT (a trigger each time).</summary>
    [Benchmark(OperationsPerInvoke = 2)]
    public Observation? WrmsrXssTrigger() => Pair(XssNone, XssPt);

    /// <summary>CPUID.1 twice on an up-to-date table.</summary>
    [Benchmark(OperationsPerInvoke = 2)]
    public Observation? CpuidClean() => Pair(Cpuid1, Cpuid1);

    /// <summary>A CR4 trigger followed by CPUID.1 (the lazy update happens at the CPUID).</summary>
    [Benchmark(OperationsPerInvoke = 2)]
    public Observation? Cr4ThenCpuid()
    {
        flip = !flip;
        return Pair(flip ? Cr4Off : Cr4On, Cpuid1);
    }

    /// <summary>Nested VM-entry then VM-exit with different CR4 (two triggers).</summary>
    [Benchmark(OperationsPerInvoke = 2)]
    public Observation? NestedEntryExit() => Pair(Entry, Exit);
}
