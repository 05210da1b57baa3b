using System.CommandLine;
using CpuidFunctional.Core;
using CpuidFunctional.Core.Checking;
using CpuidFunctional.Core.Host;
using CpuidFunctional.Core.Model;
using CpuidFunctional.Core.Scenarios;

namespace CpuidFunctional.Cli;

/// <summary>
/// <c>cpuidf run SCENARIO... [--shard I/N] [--policy P...] [--bug VARIANT]</c>: runs scenario files under Eager, Lazy
/// and Reference (or the policies named), and checks that each file's <c>caught-by</c> variants make it fail.
/// </summary>
internal static class RunCommand
{
    public static Command Create(CpuidfApp app)
    {
        var files = new Argument<string[]>("scenario") { Description = "Scenario files (docs/scenarios.md)", Arity = ArgumentArity.OneOrMore };
        var shard = Choices.Shard("Run only part I of N (0-based) of the files, in the order given: file p belongs to shard p mod N");
        var bug = Choices.Bugs.One("--bug", "Run Lazy with this deliberately wrong rule (a WrongRules name) instead, to see which scenarios catch it");
        var policies = Choices.Policies.Many("--policy", "Policies to run the scenarios under (default: all = eager lazy reference; lazy-unfixed replays KVM before the KVM_SET_CPUID2 fix); repeat the option for each", namesPerToken: false);
        // An argument list takes a mistyped option as a file name: refuse a '-' name that is not a file.
        files.Validators.Add(r =>
        {
            foreach (var option in r.Tokens.Select(t => t.Value).Where(v => v.StartsWith('-') && !File.Exists(v)))
            {
                r.AddError($"unknown option '{option}' (see 'cpuidf run --help'); a scenario file named so would be read if it existed");
            }
        });
        var command = new Command("run", "Run scenario files under every correct policy and check their caught-by variants; exit 0 only if all pass") { files, shard, policies, bug };
        command.SetAction(parse => Run(app, parse.GetValue(files)!, parse.GetValue(shard), parse.GetValue(policies) ?? [], parse.GetValue(bug)));
        return command;
    }

    private static int Run(CpuidfApp app, string[] files, Shard shard, Policy[] policies, KvmRules? variant)
    {
        var exit = ExitCodes.Ok;
        var passed = 0;
        var failed = 0;
        for (var p = 0; p < files.Length; p++)
        {
            if (!shard.Owns(p))
            {
                continue;
            }
            switch (ScenarioFiles.Run(files[p], variant, policies))
            {
                case Result<ScenarioReport>.Ok(var report):
                    app.Output.WriteLine(report.ToString());
                    if (report.Passed && variant is null && policies.Length == 0 && CheckCaughtBy(app, files[p]) is var caught and not ExitCodes.Ok)
                    {
                        failed++;
                        exit = Math.Max(exit, caught);
                    }
                    else if (report.Passed)
                    {
                        passed++;
                    }
                    else
                    {
                        failed++;
                        exit = Math.Max(exit, ExitCodes.Failed);
                    }
                    break;
                case Result<ScenarioReport>.Error(var problem):
                    app.Error.WriteLine("error: " + problem);
                    failed++;
                    exit = ExitCodes.BadInput;
                    break;
                default:
                    throw new System.Diagnostics.UnreachableException();
            }
        }
        app.Output.WriteLine($"{passed} passed, {failed} failed");
        return exit;
    }

    /// <summary>Runs a passing file's <c>caught-by</c> variants: each must make it fail. Prints one line per variant.</summary>
    private static int CheckCaughtBy(CpuidfApp app, string path)
    {
        switch (ScenarioFiles.CaughtBy(path))
        {
            case Result<IReadOnlyList<(string Variant, ScenarioReport Report)>>.Ok(var checks):
                var exit = ExitCodes.Ok;
                foreach (var (name, report) in checks)
                {
                    if (report.Failure is { } failure)
                    {
                        app.Output.WriteLine($"  caught by {name}: line {failure.Line}");
                    }
                    else
                    {
                        app.Output.WriteLine($"  NOT caught by {name}: the scenario passes with Lazy running it");
                        exit = ExitCodes.Failed;
                    }
                }
                return exit;
            case Result<IReadOnlyList<(string Variant, ScenarioReport Report)>>.Error(var problem):
                app.Error.WriteLine("error: " + problem);
                return ExitCodes.BadInput;
            default:
                throw new System.Diagnostics.UnreachableException();
        }
    }
}
