using System.CommandLine;
using System.Globalization;
using System.Text;
using CpuidFunctional.Core.Checking;
using CpuidFunctional.Core.Host;
using CpuidFunctional.Core.Model;
using Spectre.Console;

namespace CpuidFunctional.Cli;

/// <summary>
/// <c>cpuidf random</c>: the observation-equivalence property of issue 4 as a command. Trace k comes from
/// <see cref="RandomTraceGenerator.Generate"/>(seed, k) alone, so a run is reproducible and splits over machines by
/// k; each trace runs under Eager, Lazy and Reference in lock-step and must give equal observations at every event.
/// </summary>
internal static class RandomCommand
{
    /// <summary>Traces checked when <c>--traces</c> is not given.</summary>
    public const long DefaultTraces = 10_000;

    public static Command Create(CpuidfApp app)
    {
        var hosts = new Option<string[]>("--host") { Description = "Presets or dump files a trace's host is drawn from (default: every preset, in the preset order); repeatable", AllowMultipleArgumentsPerToken = true };
        var kernels = new Option<string[]>("--kernel") { Description = "6.15 and/or 6.18 a trace's kernel is drawn from (default: both); repeatable", AllowMultipleArgumentsPerToken = true };
        var traces = new Option<string?>("--traces") { Description = $"How many traces the whole run has: k = start .. start+traces-1 (default {DefaultTraces:N0})" };
        var start = new Option<string?>("--start") { Description = "The first trace number k (default 0); with --traces 1, reruns one trace" };
        var seed = new Option<string?>("--seed") { Description = "The run's seed; trace k depends only on (seed, k) and the options (default 0)" };
        var shard = new Option<string?>("--shard") { Description = "Check only part I of N (0-based): the traces with k mod N = I" };
        var length = new Option<string?>("--length") { Description = $"Events per trace after KVM_SET_CPUID2 and KVM_RUN (default {RandomTraceGenerator.DefaultLength})" };
        var bug = new Option<string?>("--bug") { Description = "Teaching aid: run Lazy with this deliberately wrong rule (a WrongRules name) to see a failure", Hidden = true };
        var command = new Command("random", "Random event traces: Eager, Lazy and Reference must agree at every observation (deterministic, shardable)")
        {
            hosts, kernels, traces, start, seed, shard, length, bug,
        };
        command.SetAction(parse => Run(
            app,
            parse.GetValue(hosts) ?? [],
            parse.GetValue(kernels) ?? [],
            parse.GetValue(traces),
            parse.GetValue(start),
            parse.GetValue(seed),
            parse.GetValue(shard),
            parse.GetValue(length),
            parse.GetValue(bug)));
        return command;
    }

    private static int Run(
        CpuidfApp app,
        string[] hostNames,
        string[] kernelNames,
        string? tracesText,
        string? startText,
        string? seedText,
        string? shardText,
        string? lengthText,
        string? bugName)
    {
        if (Number(app, "--traces", tracesText, DefaultTraces, long.MaxValue / 2, out var traces) is { } e1)
        {
            return e1;
        }
        if (Number(app, "--start", startText, 0, long.MaxValue / 2, out var start) is { } e2)
        {
            return e2;
        }
        if (Number(app, "--length", lengthText, RandomTraceGenerator.DefaultLength, 100_000, out var length) is { } e3)
        {
            return e3;
        }
        if (length < 1)
        {
            return app.Fail("--length: must be at least 1");
        }
        if (traces < 1)
        {
            return app.Fail("--traces: must be at least 1 (a run of no traces checks nothing)");
        }
        var seed = 0ul;
        if (seedText is not null)
        {
            if (Numbers.Parse(seedText) is not { } s)
            {
                return app.Fail($"--seed: bad number '{seedText}' (expected 0xHEX or decimal)");
            }
            seed = s;
        }
        var shard = Shard.Whole;
        if (shardText is not null)
        {
            if (Shard.Parse(shardText) is not { } sh)
            {
                return app.Fail($"--shard: expected I/N with 0 <= I < N, found '{shardText}'");
            }
            shard = sh;
        }
        var profiles = new List<KernelProfile>();
        foreach (var k in kernelNames.Length == 0 ? ["6.15", "6.18"] : kernelNames)
        {
            if (Choices.Kernel(k) is not { } profile)
            {
                return app.Fail($"--kernel: expected 6.15 or 6.18, found '{k}'");
            }
            profiles.Add(profile);
        }
        var lazy = Policy.Lazy;
        if (bugName is not null)
        {
            if (Choices.Bug(bugName) is not { } b)
            {
                return app.Fail($"--bug: unknown bug '{bugName}' (expected one of {Choices.BugNames})");
            }
            lazy = new Policy(UpdateScheme.Lazy, b);
        }
        if (Choices.Hosts(app, hostNames.Length == 0 ? HostPresets.Names : hostNames, out var hostExit) is not { } hosts)
        {
            return hostExit;
        }
        var generator = new RandomTraceGenerator(hosts, profiles, (int)length);
        Policy[] policies = [Policy.Eager, lazy, Policy.Reference];
        var options = Reproduction(hostNames, kernelNames, length, bugName);
        var run = new Sweep(generator, policies, seed, start, traces, shard);
        var clock = TimeProvider.System;
        var began = clock.GetTimestamp();
        WithProgress(app, run);
        var seconds = Math.Max(clock.GetElapsedTime(began).TotalSeconds, 1e-9);
        var scope = string.Create(CultureInfo.InvariantCulture, $"seed {seed}, traces {start}..{start + traces - 1}{(shard.IsWhole ? "" : $", shard {shard}")}");
        var figures = string.Create(CultureInfo.InvariantCulture, $"checked {run.Checked} traces, {run.Events} events");
        // Time and rates go to stderr, so the same seed gives byte-identical stdout.
        app.Error.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"time: {seconds:F2} s ({run.Checked / seconds:N0} traces/s, {run.Events / seconds:N0} events/s)"));
        if (run.Failure is not { } failure)
        {
            app.Output.WriteLine($"random ({scope}): {figures}: {string.Join(", ", policies)} agree at every observation");
            return ExitCodes.Ok;
        }
        app.Output.WriteLine(Report(failure.K, failure.Trace, policies, seed, options));
        app.Output.WriteLine();
        app.Output.WriteLine($"random ({scope}): {figures}: FAILED at trace {failure.K}");
        return ExitCodes.Failed;
    }

    private static int? Number(CpuidfApp app, string name, string? text, long fallback, long max, out long value)
    {
        value = fallback;
        if (text is null)
        {
            return null;
        }
        if (Numbers.Parse(text) is not { } v || v > (ulong)max)
        {
            return app.Fail($"{name}: bad number '{text}' (expected 0xHEX or decimal, at most {max})");
        }
        value = (long)v;
        return null;
    }

    /// <summary>The options that decide what trace k is, for the reproduce line.</summary>
    private static string Reproduction(string[] hostNames, string[] kernelNames, long length, string? bug)
    {
        var sb = new StringBuilder();
        foreach (var h in hostNames)
        {
            sb.Append(" --host ").Append(h);
        }
        foreach (var k in kernelNames)
        {
            sb.Append(" --kernel ").Append(k);
        }
        if (length != RandomTraceGenerator.DefaultLength)
        {
            sb.Append(CultureInfo.InvariantCulture, $" --length {length}");
        }
        if (bug is not null)
        {
            sb.Append(" --bug ").Append(bug);
        }
        return sb.ToString();
    }

    /// <summary>The failing trace's first difference, the minimized script, and how to rerun it.</summary>
    private static string Report(long k, EventTrace trace, Policy[] policies, ulong seed, string options)
    {
        var sb = new StringBuilder();
        var full = trace.FirstDivergence(policies)!;
        sb.Append(CultureInfo.InvariantCulture, $"FAILED: trace {k} of seed {seed}: the policies' observations differ at event {full.EventIndex + 1} of {trace.Events.Count}\n");
        var minimal = trace.Minimize(policies);
        var d = minimal.FirstDivergence(policies)!;
        sb.Append(CultureInfo.InvariantCulture, $"minimized to {minimal.Events.Count} events:\n");
        sb.Append(minimal.Script(d.EventIndex + 1)).Append('\n');
        sb.Append(d).Append("\n\n");
        sb.Append(CultureInfo.InvariantCulture, $"reproduce: cpuidf random --seed {seed} --start {k} --traces 1{options}");
        return sb.ToString();
    }

    private static void WithProgress(CpuidfApp app, Sweep run)
    {
        if (!app.Console.Profile.Capabilities.Interactive)
        {
            run.Execute(null);
            return;
        }
        app.Console.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
            .Start(ctx =>
            {
                var task = ctx.AddTask("random traces", maxValue: Math.Max(1, run.Owned));
                run.Execute(done => task.Value = done);
                task.StopTask();
            });
    }

    /// <summary>The traces of one shard, checked in order of k until the first failure.</summary>
    private sealed class Sweep(RandomTraceGenerator generator, Policy[] policies, ulong seed, long start, long traces, Shard shard)
    {
        public long Checked { get; private set; }

        public long Events { get; private set; }

        public (long K, EventTrace Trace)? Failure { get; private set; }

        /// <summary>How many of the run's traces this shard owns.</summary>
        public long Owned
        {
            get
            {
                if (shard.IsWhole)
                {
                    return traces;
                }
                var first = start + (((shard.Index - (start % shard.Count)) % shard.Count) + shard.Count) % shard.Count;
                var end = start + traces;
                return first >= end ? 0 : ((end - 1 - first) / shard.Count) + 1;
            }
        }

        public void Execute(Action<long>? progress)
        {
            for (var k = start; k < start + traces; k++)
            {
                if (!shard.Owns(k))
                {
                    continue;
                }
                var trace = generator.Generate(seed, k);
                Checked++;
                Events += trace.Events.Count;
                if (progress is not null && (Checked & 63) == 0)
                {
                    progress(Checked);
                }
                if (trace.FirstDivergence(policies) is not null)
                {
                    Failure = (k, trace);
                    break;
                }
            }
            progress?.Invoke(Checked);
        }
    }
}
