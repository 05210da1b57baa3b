using BenchmarkDotNet.Attributes;

namespace CpuidFunctional.Bench.Benchmarks;

/// <summary><c>xstate_required_size</c> (<see cref="XsaveLayout.RequiredSize"/>) for everything each host supports.</summary>
[MemoryDiagnoser]
[JsonExporterAttribute.Full]
public class XstateSizeBenchmarks
{
    private HostCpu host = null!;

    /// <summary>The preset names.</summary>
    public static IEnumerable<string> Hosts => HostPresets.Names;

    /// <summary>The host preset.</summary>
    [ParamsSource(nameof(Hosts))]
    public string Host { get; set; } = "skylake-sp";

    /// <summary>Looks the host up.</summary>
    [GlobalSetup]
    public void Setup() => host = HostPresets.All[Host];

    /// <summary>Standard format, all supported XCR0 components (CPUID.0xD.0:EBX).</summary>
    [Benchmark]
    public uint Standard() => host.Xsave.RequiredSize(host.SupportedXcr0, compacted: false);

    /// <summary>Compacted format, XCR0 | XSS (CPUID.0xD.1:EBX from 6.18).</summary>
    [Benchmark]
    public uint Compacted() => host.Xsave.RequiredSize(host.SupportedXcr0 | host.SupportedXss, compacted: true);
}
