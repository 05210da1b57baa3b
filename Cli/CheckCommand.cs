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
        var kernels = new Option<string[]>("--kernel") { Description = "6.15 and/or 6.18 (default: both); repeatable", AllowMultipleArgumentsPerToken = true };
        var policies = new Option<string[]>("--policy") { Description = "Policies in lock-step: eager, lazy, lazy-unfixed, reference (default: eager lazy reference)", AllowMultipleArgumentsPerToken = true };
        var depth = new Option<string?>("--depth") { Description = "Expand states only up to this many events from the start" };
        var maxStates = new Option<string?>("--max-states") { Description = "Stop after the level at which this many states are stored" };
        var chain = new Option<bool>("--chain") { Description = "XCR0 only along the host's feature chain (the test suite's bound) instead of every valid mask" };
        var shard = new Option<string?>("--shard") { Description = "Check only part I of N (0-based) of the host x kernel configurations: configuration p belongs to shard p mod N" };
        var yardstick = new Option<bool>("--yardstick") { Description = "Explore the shared yardstick abstraction (shared/modelcheck) instead" };
        var noGuard = new Option<bool>("--no-quirk-guard") { Description = "With --yardstick: drop the quirk guard (finds the MWAIT counterexample)" };
        var threads = new Option<string?>("--threads") { Description = "Worker threads (default: one per core)" };
        var command = new Command("check", "Exhaustive check that the policies make the same observations in every reachable state")
        {
            hosts, kernels, policies, depth, maxStates, chain, shard, yardstick, noGuard, threads,
        };
        command.SetAction(parse =>
        {
            var options = new ExplorationOptions { Clock = TimeProvider.System };
            if (Int(parse.GetValue(depth), "--depth", app, out var d) is { } e1)
            {
                return e1;
            }
            if (Int(parse.GetValue(maxStates), "--max-states", app, out var m) is { } e2)
            {
                return e2;
            }
            if (Int(parse.GetValue(threads), "--threads", app, out var t) is { } e3)
            {
                return e3;
            }
            options = options with { MaxDepth = (int)Math.Min(d ?? int.MaxValue, int.MaxValue), MaxStates = m ?? long.MaxValue, Parallelism = (int)Math.Min(t ?? 0, 64) };
            if (parse.GetValue(noGuard) && !parse.GetValue(yardstick))
            {
                return app.Fail("--no-quirk-guard: only the yardstick (--yardstick) has a quirk guard; the KVM model has none to drop");
            }
            if (parse.GetValue(yardstick))
            {
                return Yardstick(app, options, !parse.GetValue(noGuard));
            }
            return Equivalence(app, options, parse.GetValue(hosts) ?? [], parse.GetValue(kernels) ?? [], parse.GetValue(policies) ?? [], parse.GetValue(chain), parse.GetValue(shard));
        });
        return command;
    }

    private static int? Int(string? text, string name, CpuidfApp app, out long? value)
    {
        value = null;
        if (text is null)
        {
            return null;
        }
        if (Numbers.Parse(text) is not { } v || v > long.MaxValue)
        {
            return app.Fail($"{name}: bad number '{text}'");
        }
        value = (long)v;
        return null;
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

    private static int Equivalence(CpuidfApp app, ExplorationOptions options, string[] hostNames, string[] kernelNames, string[] policyNames, bool chain, string? shardText)
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
        if (Choices.Hosts(app, hostNames.Length == 0 ? [.. HostPresets.Names] : hostNames, out var hostError) is not { } hosts)
        {
            return hostError;
        }
        if (hosts.FirstOrDefault(h => KvmAlphabet.Xcr0GroupCount(h.SupportedXcr0) > KvmAlphabet.MaxXcr0Groups) is { } wide)
        {
            return app.Fail($"--host {wide.Name}: XCR0 support {Numbers.Hex(wide.SupportedXcr0)} has {KvmAlphabet.Xcr0GroupCount(wide.SupportedXcr0)} feature groups, more than the {KvmAlphabet.MaxXcr0Groups} whose subsets the exhaustive alphabet enumerates");
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
        if (Choices.Policies(policyNames.Length == 0 ? Choices.AllPolicies : policyNames, out var unknown) is not { } policies)
        {
            return app.Fail($"--policy: unknown policy '{unknown}' (expected eager, lazy, lazy-unfixed or reference)");
        }
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
                var label = $"{host.Name} {Choices.KernelName(profile)} [{string.Join(", ", policies)}]";
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
