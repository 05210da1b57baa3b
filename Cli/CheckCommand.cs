using System.CommandLine;
using System.Globalization;
using CpuidFunctional.Core;
using CpuidFunctional.Core.Checking;
using CpuidFunctional.Core.Checking.Yardstick;
using CpuidFunctional.Core.Host;
using CpuidFunctional.Core.Model;
using Spectre.Console;

namespace CpuidFunctional.Cli;

/// <summary>
/// <c>cpuidf check</c>: the exhaustive lock-step equivalence check of the real Step per host and kernel (or the
/// shared yardstick), with a progress display, figures and the verdict or shortest counterexample.
/// </summary>
internal static class CheckCommand
{
    public static Command Create(CpuidfApp app)
    {
        var hosts = new Option<string[]>("--host") { Description = "Presets or dump files to check (default: every preset); repeatable", AllowMultipleArgumentsPerToken = true };
        var kernels = Choices.Kernels.Many("--kernel", "Kernels (default: both); repeatable");
        var policies = Choices.Policies.Many("--policy", "Policies in lock-step (default: all = eager lazy reference); repeatable");
        var depth = Numbers.Optional("--depth", "Expand states only up to this many events from the start", 0, int.MaxValue);
        var maxStates = Numbers.Optional("--max-states", "Stop after the level at which this many states are stored", 1L, long.MaxValue);
        var chain = new Option<bool>("--chain") { Description = "XCR0 only along the host's feature chain (the test suite's bound) instead of every valid mask" };
        var shard = Choices.Shard("Check only part I of N (0-based) of the host x kernel configurations: configuration p belongs to shard p mod N");
        var yardstick = new Option<bool>("--yardstick") { Description = "Explore the shared yardstick abstraction (shared/modelcheck) instead" };
        var noGuard = new Option<bool>("--no-quirk-guard") { Description = "With --yardstick: drop the quirk guard (finds the MWAIT counterexample)" };
        var threads = Numbers.Optional("--threads", "Worker threads (default: one per core)", 1, 64);
        var bug = Choices.Bugs.One("--bug", "Teaching aid: check Lazy with this deliberately wrong rule (a WrongRules name) to see its counterexample");
        bug.Hidden = true;
        var command = new Command("check", "Exhaustive check that the policies make the same observations in every reachable state")
        {
            hosts, kernels, policies, depth, maxStates, chain, shard, yardstick, noGuard, threads, bug,
        };
        command.Validators.Add(r =>
        {
            if (r.GetResult(noGuard) is not null && r.GetResult(yardstick) is null)
            {
                r.AddError("--no-quirk-guard: only the yardstick (--yardstick) has a quirk guard; the KVM model has none to drop");
            }
            if (r.GetResult(bug) is not null && r.GetResult(yardstick) is not null)
            {
                r.AddError("--bug: the yardstick (--yardstick) has no KVM rules to make wrong");
            }
        });
        command.SetAction(parse =>
        {
            var options = new ExplorationOptions
            {
                Clock = TimeProvider.System,
                MaxDepth = parse.GetValue(depth) ?? int.MaxValue,
                MaxStates = parse.GetValue(maxStates) ?? long.MaxValue,
                Parallelism = parse.GetValue(threads) ?? 0,
            };
            return parse.GetValue(yardstick)
                ? Yardstick(app, options, !parse.GetValue(noGuard))
                : Equivalence(app, options, parse.GetValue(hosts) ?? [], parse.GetValue(kernels) ?? [], parse.GetValue(policies) ?? [], parse.GetValue(chain), parse.GetValue(shard), parse.GetValue(bug));
        });
        return command;
    }

    /// <summary>
    /// Prints a search's result after <paramref name="heading"/> on stdout without the time, which goes to stderr with
    /// the rate, so stdout is the same for every run of the same check (its figures are deterministic,
    /// docs/model-checking.md).
    /// </summary>
    private static void WriteResult<TState, TEvent, TObservation>(
        CpuidfApp app,
        string label,
        string heading,
        ExplorationResult<TState, TEvent, TObservation> result
    )
    {
        var statistics = result.Statistics;
        app.Output.WriteLine($"{heading}: {result with { Statistics = statistics with { Elapsed = null } }}");
        if (statistics.Elapsed is { } elapsed)
        {
            app.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"time: {label}: {elapsed.TotalSeconds:F2} s, {statistics.StatesPerSecond:N0} states/s"));
        }
    }

    private static int Yardstick(CpuidfApp app, ExplorationOptions options, bool guard)
    {
        var model = new YardstickModel(YardstickModel.SkylakeSpLayout, guard);
        var result = WithProgress(app, "yardstick", options, o => Explorer.Explore<YardstickState, YardstickEvent, YardstickObservation, YardstickModel>(model, o));
        var label = $"yardstick (Skylake-SP, 6.15, quirk guard {(guard ? "on" : "off")})";
        WriteResult(app, label, label, result);
        return result.Holds ? ExitCodes.Ok : ExitCodes.Failed;
    }

    private static int Equivalence(CpuidfApp app, ExplorationOptions options, string[] hostNames, KernelProfile[] kernels, Policy[] policies, bool chain, Shard shard, KvmRules? bug)
    {
        if (Choices.Hosts(app, hostNames.Length == 0 ? [.. HostPresets.Names] : hostNames, out var hostError) is not { } hosts)
        {
            return hostError;
        }
        if (hosts.FirstOrDefault(h => KvmAlphabet.Xcr0GroupCount(h.SupportedXcr0) > KvmAlphabet.MaxXcr0Groups) is { } wide)
        {
            return app.Fail($"--host {wide.Name}: XCR0 support {Numbers.Hex(wide.SupportedXcr0)} has {KvmAlphabet.Xcr0GroupCount(wide.SupportedXcr0)} feature groups, more than the {KvmAlphabet.MaxXcr0Groups} whose subsets the exhaustive alphabet enumerates");
        }
        KernelProfile[] profiles = kernels.Length == 0 ? [.. Choices.Kernels.Values] : kernels;
        if (policies.Length == 0)
        {
            policies = [.. Policy.Correct];
        }
        if (Choices.WithBug(policies, bug) is not { } withBug)
        {
            return app.Fail("--bug: the bug is injected into Lazy, which is not among the policies");
        }
        policies = withBug;
        var bounds = chain ? EquivalenceBounds.Chain : EquivalenceBounds.Full;
        var exit = ExitCodes.Ok;
        var position = 0;
        foreach (var host in hosts)
        {
            foreach (var profile in profiles)
            {
                if (!shard.Owns(position++))
                {
                    continue;
                }
                var configuration = CheckConfiguration.FromHost(host, profile).WithPolicies([.. policies]);
                var model = new KvmEquivalenceModel(configuration, KvmAlphabet.For(configuration, bounds));
                var label = $"{host.Name} {Choices.Kernels.NameOf(profile)} [{string.Join(", ", policies)}]";
                var result = WithProgress(app, label, options, o => model.Explore(o));
                WriteResult(app, label, $"{label}, {model.Alphabet.Count} events", result);
                if (!result.Holds)
                {
                    exit = ExitCodes.Failed;
                }
            }
        }
        return exit;
    }

    /// <summary>Runs a search with a live progress line when the console is interactive, silently otherwise.</summary>
    private static ExplorationResult<TState, TEvent, TObservation> WithProgress<TState, TEvent, TObservation>(
        CpuidfApp app,
        string label,
        ExplorationOptions options,
        Func<ExplorationOptions, ExplorationResult<TState, TEvent, TObservation>> search
    )
    {
        if (!app.Console.Profile.Capabilities.Interactive)
        {
            return search(options);
        }
        ExplorationResult<TState, TEvent, TObservation>? result = null;
        app.Console.Progress()
            .Columns(new TaskDescriptionColumn(), new SpinnerColumn(), new ElapsedTimeColumn())
            .Start(ctx =>
            {
                // Task descriptions are Spectre markup; the label is plain text ("[Eager, Lazy, Reference]").
                var task = ctx.AddTask(Markup.Escape(label), maxValue: 1);
                task.IsIndeterminate = true;
                result = search(
                    options with
                    {
                        Progress = p =>
                            task.Description = Markup.Escape(
                                string.Create(CultureInfo.InvariantCulture, $"{label}: depth {p.Depth}, {p.States:N0} states, {p.Transitions:N0} transitions, frontier {p.Frontier:N0}")
                            ),
                    }
                );
                task.Value = 1;
                task.StopTask();
            });
        return result!;
    }
}
