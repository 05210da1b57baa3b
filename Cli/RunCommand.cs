using System.CommandLine;
using CpuidFunctional.Core;
using CpuidFunctional.Core.Checking;
using CpuidFunctional.Core.Host;
using CpuidFunctional.Core.Scenarios;

namespace CpuidFunctional.Cli;

/// <summary><c>cpuidf run SCENARIO... [--shard I/N]</c>: runs scenario files under Eager, Lazy and Reference.</summary>
internal static class RunCommand
{
    public static Command Create(CpuidfApp app)
    {
        var files = new Argument<string[]>("scenario") { Description = "Scenario files (docs/scenarios.md)", Arity = ArgumentArity.OneOrMore };
        var shard = new Option<string?>("--shard") { Description = "Run only part I of N (0-based) of the files, in the order given: file p belongs to shard p mod N" };
        var command = new Command("run", "Run scenario files under every correct policy; exit 0 only if all pass") { files, shard };
        command.SetAction(parse => Run(app, parse.GetValue(files)!, parse.GetValue(shard)));
        return command;
    }

    private static int Run(CpuidfApp app, string[] files, string? shardText)
    {
        var shard = Shard.Whole;
        if (shardText is not null)
        {
            if (Shard.Parse(shardText) is not { } s)
            {
                return app.Fail($"--shard: expected I/N with 0 <= I < N, found '{shardText}'");
            }
            shard = s;
        }
        var exit = ExitCodes.Ok;
        var passed = 0;
        var failed = 0;
        for (var p = 0; p < files.Length; p++)
        {
            if (!shard.Owns(p))
            {
                continue;
            }
            switch (ScenarioFiles.Run(files[p]))
            {
                case Result<ScenarioReport>.Ok(var report):
                    app.Output.WriteLine(report.ToString());
                    if (report.Passed)
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
}
