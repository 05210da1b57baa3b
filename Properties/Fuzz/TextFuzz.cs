using System.Collections.Immutable;
using System.Text;
using CpuidFunctional.Core.Checking;
using CpuidFunctional.Core.Scenarios;
using CpuidFunctional.Properties.Scenarios;

namespace CpuidFunctional.Properties.Fuzz;

/// <summary>
/// The text targets: mutated scenarios/*.scn through <see cref="ScenarioParser"/> and, when one parses,
/// <see cref="ScenarioRunner"/> (a preset host by its name, a dump host as Skylake-SP: Core reads no files); mutated
/// dumps of both formats (the presets' AIDA64 dumps and Properties/Data's cpuid -r dumps) through their importers.
/// Any result is fine, an error included; only an escaping exception or a hang is a failure.
/// </summary>
internal static class TextFuzz
{
    private static ImmutableArray<string> Read(string folder, string pattern) =>
        [.. Directory.GetFiles(folder, pattern).Order(StringComparer.Ordinal).Select(File.ReadAllText)];

    private static readonly Lazy<ImmutableArray<string>> Scenarios = new(() => Read(RepositoryFiles.ScenarioFolder, "*.scn"));

    private static readonly Lazy<ImmutableArray<string>> Aida64Dumps = new(() => Read(Path.Combine(AppContext.BaseDirectory, "Data"), "*.aida64.txt"));

    private static readonly Lazy<ImmutableArray<string>> CpuidRawDumps = new(() => Read(Path.Combine(AppContext.BaseDirectory, "Data"), "*.cpuid-r.txt"));

    /// <summary>Parses and, if it parses, runs a scenario text; null unless something escaped (the loop catches that).</summary>
    public static string? ParseAndRun(string text)
    {
        if (ScenarioParser.Parse(text, "fuzz.scn") is Result<Scenario>.Ok(var scenario))
        {
            var host = scenario.Host is HostSpec.Preset(var name) && HostPresets.ByName(name) is Result<HostCpu>.Ok(var preset)
                ? preset
                : HostPresets.SkylakeSp;
            _ = ScenarioRunner.Run(scenario, host).ToString();
        }
        return null;
    }

    /// <summary>Imports a dump in both formats (each rejects the other's lines with an error, which is fine).</summary>
    public static string? Import(string text)
    {
        _ = Aida64Dump.Parse(text, "fuzz.aida64.txt").ToString();
        _ = CpuidRawDump.Parse(text, "fuzz.cpuid-r.txt").ToString();
        return null;
    }

    public static FuzzTarget<string> Scenario { get; } = Target("scenario", r => FuzzInputs.MutateText(r, r.Of(Scenarios.Value.AsSpan())), ParseAndRun, ".scn");

    public static FuzzTarget<string> Dump { get; } = Target(
        "dump",
        r => FuzzInputs.MutateText(r, r.Below(2) == 0 ? r.Of(Aida64Dumps.Value.AsSpan()) : r.Of(CpuidRawDumps.Value.AsSpan())),
        Import,
        ".txt"
    );

    private static FuzzTarget<string> Target(string name, Func<Draws, string> generate, Func<string, string?> check, string extension) => new(
        name,
        generate,
        check,
        static (text, fails) => FuzzInputs.MinimizeLines(text, fails),
        static text => $"{text.Length} characters: {FuzzInputs.Escape(text.Length > 400 ? text[..400] + "…" : text)}",
        static text => new UTF8Encoding(false).GetBytes(text),
        extension
    );
}
