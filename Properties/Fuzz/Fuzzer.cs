using System.Globalization;
using CpuidFunctional.Core.Checking;

namespace CpuidFunctional.Properties.Fuzz;

/// <summary>
/// The fuzz loop shared by the targets: case <c>k</c> of seed <c>s</c> is generated from <c>Draws.ForItem(s, k)</c>
/// alone, checked on a worker with a wall-clock limit, and a failure (an escaping exception, a disagreement, a hang)
/// is minimized, saved as a reproducer file and reported with its (seed, index). The budget is a share of
/// <c>CPUIDF_FUZZ_SECONDS</c> (default 30 s for the whole Fuzz category); <c>CPUIDF_FUZZ_SEED</c> (a number, or
/// <c>random</c>) and <c>CPUIDF_FUZZ_INDEX</c> (run that one case) reproduce a failure.
/// </summary>
internal static class Fuzzer
{
    public const string Category = "Fuzz";

    private const ulong DefaultSeed = 0x17_F022;

    /// <summary>The whole category's budget in seconds.</summary>
    public static double TotalSeconds { get; } =
        double.TryParse(Environment.GetEnvironmentVariable("CPUIDF_FUZZ_SECONDS"), NumberStyles.Float, CultureInfo.InvariantCulture, out var s) && s > 0 ? s : 30;

    /// <summary>The run's seed (fixed unless <c>CPUIDF_FUZZ_SEED</c> says otherwise, so CI replays the same cases).</summary>
    public static ulong Seed { get; } = Environment.GetEnvironmentVariable("CPUIDF_FUZZ_SEED") switch
    {
        null or "" => DefaultSeed,
        "random" => (ulong)Random.Shared.NextInt64(),
        var text when text.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
            && ulong.TryParse(text[2..], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var hex) => hex,
        var text when ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var dec) => dec,
        var text => throw new FormatException($"CPUIDF_FUZZ_SEED={text}: a decimal or 0x-hex number, or 'random'"),
    };

    /// <summary>The one case to run, if <c>CPUIDF_FUZZ_INDEX</c> is set.</summary>
    public static long? OnlyIndex { get; } =
        long.TryParse(Environment.GetEnvironmentVariable("CPUIDF_FUZZ_INDEX"), NumberStyles.None, CultureInfo.InvariantCulture, out var k) ? k : null;

    /// <summary>Where reproducers go.</summary>
    public static string ReproducerFolder { get; } = Path.Combine(Path.GetTempPath(), "cpuidf-fuzz");

    /// <summary>A wall-clock limit per case: anything slower is a hang (the step budgets keep real cases far below).</summary>
    public static TimeSpan CaseTimeout { get; } = TimeSpan.FromSeconds(20);

    /// <summary>
    /// Runs <paramref name="target"/> for <paramref name="share"/> of the budget but at least <paramref name="minCases"/>
    /// cases (or its one case) and returns what happened, stopping at the first failure; the caller asserts on it.
    /// </summary>
    public static FuzzReport Run<T>(FuzzTarget<T> target, double share, bool saveReproducer = true, long minCases = 0)
    {
        var budget = TimeSpan.FromSeconds(TotalSeconds * share);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var failures = new List<string>();
        long cases = 0;
        for (var k = OnlyIndex ?? 0; failures.Count == 0 && (OnlyIndex is { } only ? k == only : clock.Elapsed < budget || cases < minCases); k++)
        {
            var item = target.Generate(Draws.ForItem(Seed, k));
            cases++;
            if (Outcome(target, item) is { } problem)
            {
                failures.Add(Report(target, item, k, problem, saveReproducer));
            }
        }
        return new FuzzReport(target.Name, Seed, cases, clock.Elapsed, failures);
    }

    /// <summary>Checks one case on a worker: null if fine, else what went wrong (an exception, a check's complaint, a hang).</summary>
    public static string? Outcome<T>(FuzzTarget<T> target, T item)
    {
        var work = Task.Run(() => target.Check(item));
        try
        {
            return work.Wait(CaseTimeout) ? work.Result : $"hang: no answer within {CaseTimeout.TotalSeconds:0} s";
        }
        catch (AggregateException e) when (e.InnerException is { } inner)
        {
            return $"{inner.GetType().Name}: {inner.Message}\n{inner.StackTrace}";
        }
    }

    private static string Report<T>(FuzzTarget<T> target, T item, long k, string problem, bool save)
    {
        // A hang is saved as found (minimizing would rerun it many times); an unsaved failure is not minimized.
        var kind = FirstLine(problem);
        var minimal = !save || kind.StartsWith("hang", StringComparison.Ordinal)
            ? item
            : target.Minimize(item, smaller => Outcome(target, smaller) is { } p && FirstLine(p) == kind);
        var file = Path.Combine(ReproducerFolder, $"{target.Name}-{Seed:x}-{k}{target.Extension}");
        if (save)
        {
            Directory.CreateDirectory(ReproducerFolder);
            File.WriteAllBytes(file, target.Save(minimal));
        }
        return $"""
            {target.Name}: case (seed 0x{Seed:x}, index {k}) failed: {problem}
            case: {target.Describe(item)}
            minimized: {target.Describe(minimal)}
            reproducer {(save ? "saved to " + file : "not saved")}
            rerun it alone: CPUIDF_FUZZ_SEED=0x{Seed:x} CPUIDF_FUZZ_INDEX={k} dotnet test Properties -c Release --filter "FullyQualifiedName~Fuzz"
            """;
    }

    private static string FirstLine(string text) => text.Split('\n')[0];
}

/// <summary>
/// One fuzz target: how a case is drawn, checked (null when fine), minimized while a failure keeps its first line,
/// described in a message and saved as a reproducer.
/// </summary>
internal sealed record FuzzTarget<T>(
    string Name,
    Func<Draws, T> Generate,
    Func<T, string?> Check,
    Func<T, Func<T, bool>, T> Minimize,
    Func<T, string> Describe,
    Func<T, byte[]> Save,
    string Extension
);

/// <summary>What a fuzz run did: its seed, how many cases in how long, and the failures (at most one: the run stops there).</summary>
internal sealed record FuzzReport(string Target, ulong Seed, long Cases, TimeSpan Elapsed, IReadOnlyList<string> Failures)
{
    public override string ToString() =>
        $"{Target}: {Cases} cases in {Elapsed.TotalSeconds:0.0} s (seed 0x{Seed:x}), {Failures.Count} failures";
}
