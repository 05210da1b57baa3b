using CpuidFunctional.Core;
using CpuidFunctional.Core.Host;
using CpuidFunctional.Core.Scenarios;

namespace CpuidFunctional.Cli;

/// <summary>The shell around scenarios: read the file, parse it, resolve its host (presets, or dumps relative to the file), run it.</summary>
public static class ScenarioFiles
{
    /// <summary>Runs one scenario file; bad input (unreadable file, parse error, unknown host) is an error naming file and line.</summary>
    public static Result<ScenarioReport> Run(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            return Error(new ParseError(path, 0, $"cannot read the file: {e.Message}"));
        }
        var source = Path.GetFileName(path);
        Scenario scenario;
        switch (ScenarioParser.Parse(text, source))
        {
            case Result<Scenario>.Ok(var parsed):
                scenario = parsed;
                break;
            case Result<Scenario>.Error(var problem):
                return Error(problem);
            default:
                throw new System.Diagnostics.UnreachableException();
        }
        var host = scenario.Host switch
        {
            HostSpec.Preset(var name) => HostPresets.ByName(name),
            HostSpec.Dump(var dump) => HostResolver.ReadDump(Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path)) ?? ".", dump), File.ReadAllText),
            _ => throw new System.Diagnostics.UnreachableException(),
        };
        return host switch
        {
            Result<HostCpu>.Ok(var h) => new Result<ScenarioReport>.Ok(ScenarioRunner.Run(scenario, h)),
            Result<HostCpu>.Error(var problem) => Error(problem with { Source = $"{source}: host: {problem.Source}" }),
            _ => throw new System.Diagnostics.UnreachableException(),
        };
    }

    private static Result<ScenarioReport> Error(ParseError problem) => new Result<ScenarioReport>.Error(problem);
}
