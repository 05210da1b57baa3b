using BenchmarkDotNet.Attributes;
using CpuidFunctional.Bench.Measurement;
using CpuidFunctional.Core.Dynamic;

namespace CpuidFunctional.Bench.Benchmarks;

/// <summary>
/// <c>kvm_update_cpuid_runtime</c> (<see cref="DynamicBits.Materialize(Vm, Vcpu, CpuidTable, DynamicCaps, KvmRules)"/>) per host preset: on a table already up to
/// date (nothing to copy) and on a stale one (OSXSAVE, OSPKE and both XSAVE sizes change: one table copy).
/// </summary>
[MemoryDiagnoser]
[JsonExporterAttribute.Full]
public class MaterializeBenchmarks
{
    private Vm vm = null!;
    private Vcpu current = null!;
    private Vcpu stale = null!;

    /// <summary>The preset names.</summary>
    public static IEnumerable<string> Hosts => HostPresets.Names;

    /// <summary>The host preset.</summary>
    [ParamsSource(nameof(Hosts))]
    public string Host { get; set; } = "skylake-sp";

    /// <summary>A vCPU with OSXSAVE, PKE and XCR0 = x87|SSE|AVX materialized, and one whose inputs moved on.</summary>
    [GlobalSetup]
    public void Setup()
    {
        vm = new Vm(HostPresets.All[Host]);
        var v = KvmState.WithCpuid(vm, Policy.Eager, GuestCpuid.For(vm.Host)).Vcpu with { Cr4 = Cr4.OsXsave | Cr4.Pke, Xcr0 = 0x7 };
        current = v with { Cpuid = DynamicBits.Materialize(vm, v, v.Cpuid, v.Caps, KvmRules.Kvm).Table };
        stale = current with { Cr4 = 0, Xcr0 = 0x3 };
    }

    /// <summary>Nothing changes: the same table comes back.</summary>
    [Benchmark]
    public Materialized Unchanged() => DynamicBits.Materialize(vm, current, current.Cpuid, current.Caps, KvmRules.Kvm);

    /// <summary>Four outputs change: one copy of the table.</summary>
    [Benchmark]
    public Materialized Changed() => DynamicBits.Materialize(vm, stale, stale.Cpuid, stale.Caps, KvmRules.Kvm);
}
