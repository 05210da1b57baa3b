using System.Globalization;

namespace CpuidFunctional.Properties.Host;

/// <summary>Reads Properties/Data files and unwraps parse results with readable failures.</summary>
internal static class HostTestData
{
    public static string Read(string file) => File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Data", file));

    public static HostCpu HostOf(Result<HostCpu> result) => result switch
    {
        Result<HostCpu>.Ok ok => ok.Value,
        Result<HostCpu>.Error e => throw new Xunit.Sdk.XunitException($"expected a host, got the error {e.Problem}"),
        _ => throw new System.Diagnostics.UnreachableException(),
    };

    public static ParseError Problem<T>(Result<T> result) => result switch
    {
        Result<T>.Error e => e.Problem,
        Result<T>.Ok ok => throw new Xunit.Sdk.XunitException($"expected a parse error, got {ok.Value}"),
        _ => throw new System.Diagnostics.UnreachableException(),
    };

    public static HostPreset Preset(string name) => HostPresets.PresetByName(name) switch
    {
        Result<HostPreset>.Ok ok => ok.Value,
        Result<HostPreset>.Error e => throw new Xunit.Sdk.XunitException(e.Problem.ToString()),
        _ => throw new System.Diagnostics.UnreachableException(),
    };

    /// <summary>Sizes print in hex, as the SDM and the dumps write them.</summary>
    public static string Hex(uint value) => "0x" + value.ToString("X", CultureInfo.InvariantCulture);

    /// <summary>Masks print in hex.</summary>
    public static string Hex(ulong value) => "0x" + value.ToString("X", CultureInfo.InvariantCulture);

    /// <summary>EBX of a host's CPUID.0xD.sub (what the dumping OS's state made the CPU report).</summary>
    public static uint D(HostCpu host, uint subleaf) =>
        host.Cpuid.Find(0xD, subleaf) is { } e ? e.Ebx : throw new Xunit.Sdk.XunitException($"{host.Name} has no CPUID.0xD.{subleaf}");
}
