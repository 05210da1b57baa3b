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
        var kernels = Choices.Kernels.Many("--kernel", "Kernels a trace's kernel is drawn from (default: both); repeatable");
        var traces = Numbers.Option("--traces", "How many traces the whole run has: k = start .. start+traces-1", 1L, long.MaxValue / 2, DefaultTraces, why: "a run of no traces checks nothing");
        var start = Numbers.Option("--start", "The first trace number k; with --traces 1, reruns one trace", 0L, long.MaxValue / 2, 0L);
        var seed = Numbers.Option("--seed", "The run's seed; trace k depends only on (seed, k) and the options", 0ul, ulong.MaxValue, 0ul);
        var shard = Choices.Shard("Check only part I of N (0-based): the traces with k mod N = I");
        var length = Numbers.Option("--length", "Events per trace after KVM_SET_CPUID2 and KVM_RUN", 1, 100_000, RandomTraceGenerator.DefaultLength);
        var bug = Choices.Bugs.One("--bug", "Teaching aid: run Lazy with this deliberately wrong rule (a WrongRules name) to see a failure");
        bug.Hidden = true;
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
        KernelProfile[] kernels,
        long traces,
        long start,
        ulong seed,
        Shard shard,
        int length,
        KvmRules? bug)
    {
        KernelProfile[] profiles = kernels.Length == 0 ? [.. Choices.Kernels.Values] : kernels;
        var lazy = bug is null ? Policy.Lazy : new Policy(UpdateScheme.Lazy, bug);
        if (Choices.Hosts(app, hostNames.Length == 0 ? HostPresets.Names : hostNames, out var hostExit) is not { } hosts)
        {
            return hostExit;
        }
        var generator = new RandomTraceGenerator(hosts, profiles, length);
        Policy[] policies = [Policy.Eager, lazy, Policy.Reference];
        var options = Reproduction(hostNames, kernels, length, bug);
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

    /// <summary>The options that decide what trace k is, for the reproduce line.</summary>
    private static string Reproduction(string[] hostNames, KernelProfile[] kernels, int length, KvmRules? bug)
    {
        var sb = new StringBuilder();
        foreach (var h in hostNames)
        {
            sb.Append(" --host ").Append(h);
        }
        foreach (var k in kernels)
        {
            sb.Append(" --kernel ").Append(Choices.Kernels.NameOf(k));
        }
        if (length != RandomTraceGenerator.DefaultLength)
        {
            sb.Append(CultureInfo.InvariantCulture, $" --length {length}");
        }
        if (bug is not null)
        {
            sb.Append(" --bug ").Append(bug.Name);
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
