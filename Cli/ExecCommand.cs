using System.CommandLine;
using System.Globalization;
using CpuidFunctional.Core;
using CpuidFunctional.Core.Model;
using CpuidFunctional.Interpreter.Execution;
using CpuidFunctional.Interpreter.Machine;
using GuestProgram = CpuidFunctional.Interpreter.Machine.Program;

namespace CpuidFunctional.Cli;

/// <summary>
/// <c>cpuidf exec PROGRAM.bin</c>: runs a flat binary under the interpreter's contract (docs/interpreter.md) once per
/// policy and prints, per policy, the OUT values, the observations, why it stopped, the instruction count and Core's
/// effort, then whether the policies agree. Exit 1 if they do not.
/// </summary>
internal static class ExecCommand
{
    /// <summary>The step limit when <c>--max-steps</c> is not given.</summary>
    public const long DefaultMaxSteps = 1_000_000;

    /// <summary>Observations listed per policy in text output (all of them with <c>--json</c>).</summary>
    public const int ListedObservations = 100;

    public static Command Create(CpuidfApp app)
    {
        var file = new Argument<string>("program") { Description = "A flat x86-64 binary (nasm -f bin, org 0x1000), loaded at 0x1000 and entered there" };
        var host = new Option<string>("--host") { Description = "Preset or CPUID dump file; the guest CPUID is the host's table (default: skylake-sp)", DefaultValueFactory = _ => "skylake-sp" };
        var kernel = Choices.Kernels.One("--kernel", "The kernel (default: 6.18)");
        var policies = Choices.Policies.Many("--policy", "Policies to run (default: all = eager lazy reference); repeatable");
        var maxSteps = Numbers.Option("--max-steps", "Instructions per run before it stops", 1L, long.MaxValue, DefaultMaxSteps);
        var json = new Option<bool>("--json") { Description = "Print one JSON object: per policy the stop reason, steps, effort, outputs and every observation; agree; firstDifference" };
        var bug = Choices.Bugs.One("--bug", "Teaching aid: run Lazy with this deliberately wrong rule (a WrongRules name) to see a disagreement");
        bug.Hidden = true;
        var command = new Command("exec", "Run a flat binary under the interpreter once per policy and compare the runs") { file, host, kernel, policies, maxSteps, json, bug };
        command.SetAction(parse => Run(
            app,
            parse.GetValue(file)!,
            parse.GetValue(host)!,
            NameTable<KernelProfile>.ValueOr(parse, kernel, KernelProfile.Linux6_18),
            parse.GetValue(policies) ?? [],
            parse.GetValue(maxSteps),
            parse.GetValue(json),
            parse.GetValue(bug)));
        return command;
    }

    private static int Run(CpuidfApp app, string path, string hostName, KernelProfile profile, Policy[] policies, long maxSteps, bool json, KvmRules? bug)
    {
        if (policies.Length == 0)
        {
            policies = [.. Policy.Correct];
        }
        if (Choices.WithBug(policies, bug) is not { } withBug)
        {
            return app.Fail("--bug: the bug is injected into Lazy, which is not among the policies");
        }
        policies = withBug;
        if (Choices.Hosts(app, [hostName], out var hostExit) is not [var host])
        {
            return hostExit;
        }
        byte[] bytes;
        try
        {
            bytes = InputFiles.ReadBytes(path, MachineLayout.MaxProgramSize);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            return app.Fail($"{path}: cannot read the file: {e.Message}");
        }
        GuestProgram program;
        switch (GuestProgram.FromBytes(bytes, path))
        {
            case Result<GuestProgram>.Ok(var p):
                program = p;
                break;
            case Result<GuestProgram>.Error(var problem):
                return app.Fail(problem.ToString());
            default:
                throw new System.Diagnostics.UnreachableException();
        }
        var vm = new Vm(host, profile);
        var agreement = Runner.RunAll(policies, p => Machine.Boot(program, KvmState.WithCpuid(vm, p, host.Cpuid)), maxSteps);
        var header = $"{path} ({bytes.Length} bytes) on {host.Name}, kernel {Choices.Kernels.NameOf(profile)}, at most {maxSteps.ToString("N0", CultureInfo.InvariantCulture)} instructions per run";
        app.Output.WriteLine(json ? Json(path, bytes.Length, host.Name, profile, maxSteps, agreement) : Text(header, agreement));
        return agreement.Agree ? ExitCodes.Ok : ExitCodes.Failed;
    }

    private static string Text(string header, PolicyAgreement agreement)
    {
        var w = new StringWriter(CultureInfo.InvariantCulture);
        w.WriteLine(header);
        foreach (var (policy, r) in agreement.Runs)
        {
            w.WriteLine();
            w.WriteLine($"{policy}: {r.Stop} after {r.Steps} instructions; Core effort: {r.Effort.RuntimeUpdates} runtime CPUID updates, {r.Effort.XstateSizeComputations} XSAVE-size computations");
            w.WriteLine($"  OUT values ({r.Outputs.Count}):");
            foreach (var o in r.Outputs)
            {
                w.WriteLine($"    {o}");
            }
            w.WriteLine($"  observations ({r.Observations.Count}):");
            for (var i = 0; i < Math.Min(r.Observations.Count, ListedObservations); i++)
            {
                w.WriteLine($"    {i + 1,4}. {r.Observations[i]}");
            }
            if (r.Observations.Count > ListedObservations)
            {
                w.WriteLine($"    ({r.Observations.Count - ListedObservations} more; --json lists all)");
            }
        }
        w.WriteLine();
        var names = string.Join(", ", agreement.Runs.Select(r => r.Policy));
        w.Write(agreement.Agree
            ? $"the policies agree ({names}): same observations, OUT values, events, stop reason and instruction count"
            : $"the policies DIFFER: {agreement.FirstDifference}");
        return w.ToString();
    }

    private static string Json(string path, int size, string host, KernelProfile profile, long maxSteps, PolicyAgreement agreement) =>
        JsonText.Of(new
        {
            program = path,
            bytes = size,
            host,
            kernel = Choices.Kernels.NameOf(profile),
            maxSteps,
            runs = agreement.Runs.Select(run => new
            {
                policy = run.Policy.Name,
                stop = run.Result.Stop.ToString(),
                stopKind = run.Result.Stop.GetType().Name,
                steps = run.Result.Steps,
                runtimeUpdates = run.Result.Effort.RuntimeUpdates,
                xstateSizeComputations = run.Result.Effort.XstateSizeComputations,
                outputs = run.Result.Outputs.Select(o => new { level = o.Level, port = o.Port, value = o.Value, size = o.Size }),
                observations = run.Result.Observations.Select(o => o.ToString()),
            }),
            agree = agreement.Agree,
            firstDifference = agreement.FirstDifference,
        });
}
