using System.Collections.Immutable;
using System.Collections.ObjectModel;
using CpuidFunctional.Core.Host.Presets;

namespace CpuidFunctional.Core.Host;

/// <summary>
/// Built-in hosts made from four real CPUID dumps (public InstLatx64 collection, AIDA64 format, first logical CPU),
/// embedded in the assembly and parsed with <see cref="Aida64Dump"/> on first use.
/// </summary>
public static class HostPresets
{
    /// <summary>The presets in a fixed order: Skylake-SP, Ice Lake-SP, Sapphire Rapids, Genoa.</summary>
    public static ImmutableArray<HostPreset> Presets { get; } =
    [
        Load(
            "skylake-sp",
            SkylakeSpDump.Aida64Text,
            "skylake-sp-8160.aida64.txt",
            dumpXcr0: 0xFF,
            dumpXss: 0x100,
            "Intel Xeon Platinum 8160 (Skylake-SP): AVX-512 and MPX, Intel PT in XSS"
        ),
        Load(
            "icelake-sp",
            IcelakeSpDump.Aida64Text,
            "icelake-sp-8351n.aida64.txt",
            dumpXcr0: 0xE7,
            dumpXss: 0x100,
            "Intel Xeon Platinum 8351N (Ice Lake-SP): AVX-512 and PKRU, no MPX, Intel PT in XSS"
        ),
        Load(
            "sapphire-rapids",
            SapphireRapidsDump.Aida64Text,
            "sapphire-rapids-w7-2475x.aida64.txt",
            dumpXcr0: 0x602E7,
            dumpXss: 0x100,
            "Intel Xeon w7-2475X (Sapphire Rapids): AMX tiles (64-byte aligned when compacted), PASID, CET, UINTR, Arch LBR"
        ),
        Load(
            "genoa",
            GenoaDump.Aida64Text,
            "genoa-epyc-9654.aida64.txt",
            dumpXcr0: 0xE7,
            dumpXss: 0x800,
            "AMD EPYC 9654 (Zen 4 Genoa): AMD layout (no MPX gap, PKRU at 0x980), CET in XSS"
        ),
    ];

    /// <summary>Intel Xeon Platinum 8160 (Skylake-SP).</summary>
    public static HostCpu SkylakeSp => Presets[0].Host;

    /// <summary>Intel Xeon Platinum 8351N (Ice Lake-SP).</summary>
    public static HostCpu IcelakeSp => Presets[1].Host;

    /// <summary>Intel Xeon w7-2475X (Sapphire Rapids).</summary>
    public static HostCpu SapphireRapids => Presets[2].Host;

    /// <summary>AMD EPYC 9654 (Zen 4 Genoa).</summary>
    public static HostCpu Genoa => Presets[3].Host;

    /// <summary>The preset names in <see cref="Presets"/> order.</summary>
    public static ImmutableArray<string> Names { get; } = [.. Presets.Select(p => p.Name)];

    /// <summary>Name to host, enumerated in <see cref="Presets"/> order.</summary>
    public static IReadOnlyDictionary<string, HostCpu> All { get; } =
        new ReadOnlyDictionary<string, HostCpu>(new OrderedDictionary<string, HostCpu>(Presets.Select(p => KeyValuePair.Create(p.Name, p.Host)), StringComparer.Ordinal));

    /// <summary>The preset with this name (exact, case-insensitive), or an error listing the valid names.</summary>
    /// <param name="name">A preset name such as <c>sapphire-rapids</c>.</param>
    public static Result<HostPreset> PresetByName(string name)
    {
        foreach (var preset in Presets)
        {
            if (string.Equals(preset.Name, name, StringComparison.OrdinalIgnoreCase))
            {
                return new Result<HostPreset>.Ok(preset);
            }
        }
        return new Result<HostPreset>.Error(
            new ParseError("host preset", 0, $"unknown host preset '{name}': expected one of {string.Join(", ", Names)}")
        );
    }

    /// <summary>The host of the preset with this name, or an error listing the valid names.</summary>
    /// <param name="name">A preset name such as <c>genoa</c>.</param>
    public static Result<HostCpu> ByName(string name) => PresetByName(name).Select(p => p.Host);

    private static HostPreset Load(string name, string text, string file, ulong dumpXcr0, ulong dumpXss, string description)
    {
        // The embedded text is ours and tested; a parse error here is a build defect, not bad input.
        var parsed = Aida64Dump.Parse(text, file).Match(e => throw new InvalidOperationException($"built-in preset {name}: {e}"));
        return new HostPreset(name, HostCpu.FromCpuid(name, parsed.Cpuid), dumpXcr0, dumpXss, description);
    }
}
