using CpuidFunctional.Core;
using CpuidFunctional.Core.Checking;
using CpuidFunctional.Core.Host;
using CpuidFunctional.Core.Model;
using CpuidFunctional.Core.Scenarios;

namespace CpuidFunctional.Cli;

/// <summary>The shell around scenarios: read the file, parse it, resolve its host (presets, or dumps relative to the file), run it.</summary>
public static class ScenarioFiles
{
    /// <summary>
    /// Runs one scenario file under the three correct policies (or the ones chosen), Lazy running a wrong variant if given; bad input
    /// (unreadable file, parse error, unknown host) is an error naming file and line.
    /// </summary>
    public static Result<ScenarioReport> Run(string path, KvmRules? variant = null, IReadOnlyList<Policy>? policies = null) =>
        Load(path) switch
        {
            Result<Loaded>.Ok(var (scenario, host)) => new Result<ScenarioReport>.Ok(ScenarioRunner.Run(scenario, host, Policies(variant, policies))),
            Result<Loaded>.Error(var problem) => Error(problem),
            _ => throw new System.Diagnostics.UnreachableException(),
        };

    /// <summary>
    /// The scenario's <c>caught-by</c> checks: each named variant run as Lazy beside Eager and Reference, with the report
    /// that must fail. An unknown variant name is an error naming file and line.
    /// </summary>
    public static Result<IReadOnlyList<(string Variant, ScenarioReport Report)>> CaughtBy(string path)
    {
        var loaded = Load(path);
        if (loaded is Result<Loaded>.Error(var unreadable))
        {
            return new Result<IReadOnlyList<(string, ScenarioReport)>>.Error(unreadable);
        }
        var (scenario, host) = ((Result<Loaded>.Ok)loaded).Value;
        var checks = new List<(string, ScenarioReport)>();
        foreach (var (line, name) in scenario.CaughtBy)
        {
            if (WrongRules.Named(name) is not { } variant)
            {
                var known = string.Join(", ", WrongRules.All.Select(r => r.Name));
                return new Result<IReadOnlyList<(string, ScenarioReport)>>.Error(
                    new ParseError(scenario.Source, line, $"caught-by: unknown variant '{name}' (expected one of {known})")
                );
            }
            checks.Add((variant.Name, ScenarioRunner.Run(scenario, host, Policies(variant))));
        }
        return new Result<IReadOnlyList<(string, ScenarioReport)>>.Ok(checks);
    }

    /// <summary>The policies chosen (default Eager, Lazy and Reference), Lazy running <paramref name="variant"/> if given.</summary>
    private static IReadOnlyList<Policy> Policies(KvmRules? variant, IReadOnlyList<Policy>? chosen = null)
    {
        var policies = chosen is { Count: > 0 } ? chosen : Policy.Correct;
        return variant is null ? policies : [.. policies.Select(p => p == Policy.Lazy ? new Policy(UpdateScheme.Lazy, variant) : p)];
    }

    private sealed record Loaded(Scenario Scenario, HostCpu Host);

    /// <summary>Reads, parses and resolves the host of a scenario file.</summary>
    private static Result<Loaded> Load(string path)
    {
        string text;
        try
        {
            text = InputFiles.ReadText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            return new Result<Loaded>.Error(new ParseError(path, 0, $"cannot read the file: {e.Message}"));
        }
        var source = Path.GetFileName(path);
        Scenario scenario;
        switch (ScenarioParser.Parse(text, source))
        {
            case Result<Scenario>.Ok(var parsed):
                scenario = parsed;
                break;
            case Result<Scenario>.Error(var problem):
                return new Result<Loaded>.Error(problem);
            default:
                throw new System.Diagnostics.UnreachableException();
        }
        var host = scenario.Host switch
        {
            HostSpec.Preset(var name) => HostPresets.ByName(name),
            HostSpec.Dump(var dump) => HostResolver.ReadDump(Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path)) ?? ".", dump), InputFiles.ReadText),
            _ => throw new System.Diagnostics.UnreachableException(),
        };
        return host switch
        {
            Result<HostCpu>.Ok(var h) => new Result<Loaded>.Ok(new Loaded(scenario, h)),
            Result<HostCpu>.Error(var problem) => new Result<Loaded>.Error(new ParseError(source, scenario.HostLine, HostProblem(problem))),
            _ => throw new System.Diagnostics.UnreachableException(),
        };
    }

    /// <summary>What went wrong resolving the host line: an unknown preset, or the dump's own file, line and problem.</summary>
    private static string HostProblem(ParseError problem) =>
        problem.Line > 0 ? $"host dump {problem.Source}:{problem.Line}: {problem.Message}" : $"host: {problem.Message}";

    private static Result<ScenarioReport> Error(ParseError problem) => new Result<ScenarioReport>.Error(problem);
}
