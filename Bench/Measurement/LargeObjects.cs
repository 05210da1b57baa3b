using System.Globalization;

namespace CpuidFunctional.Bench.Measurement;

/// <summary>
/// Where a timed run's result arrays live. <c>Runner.Run</c> returns its trace, observations and outputs as arrays of
/// exact length. When they held one reference per event (320 KB for cpuid-loop's 20,000 round trips, 960 KB for
/// kvm-like-l1's), they were past .NET's 85,000-byte large-object threshold, and the full collection the console makes
/// before every timed run gave that memory back to the system. Each run then mapped it again: about 210 page faults
/// per kvm-like-l1 run, at some 14 µs each on a VM, or 150 ns per round trip that a program running the model for a
/// while would not pay (docs/benchmarks.md, round 8). Since round 9 the trace and observations take a byte or two per
/// item, and only kvm-like-l1's trace (120,000 bytes) still crosses the default threshold. Bench.csproj raises the threshold (<c>System.GC.LOHThreshold</c>) to 8 MB, so
/// those arrays are allocated in gen0, which <see cref="Gen0Budget.Touch"/> maps before each run. The mutable
/// baseline returns no arrays and is not affected.
/// </summary>
internal static class LargeObjects
{
    /// <summary>The runtime's default threshold, in bytes.</summary>
    public const long DefaultThreshold = 85_000;

    private const string Setting = "System.GC.LOHThreshold";

    /// <summary>The threshold this process was configured with (runtimeconfig.json), or null for the default or a value it cannot read.</summary>
    public static long? Configured() => Parse(Convert.ToString(AppContext.GetData(Setting), CultureInfo.InvariantCulture));

    /// <summary>A threshold as runtimeconfig.json may give it: decimal, or hexadecimal with a 0x prefix; null otherwise.</summary>
    public static long? Parse(string? text) =>
        text switch
        {
            null => null,
            _ when text.StartsWith("0x", StringComparison.OrdinalIgnoreCase) => long.TryParse(text.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var hex) ? hex : null,
            _ => long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) ? value : null,
        };

    /// <summary>The line the console prints under its table.</summary>
    public static string Line(long? threshold) =>
        threshold is { } bytes && bytes > DefaultThreshold
            ? string.Create(CultureInfo.InvariantCulture, $"GC: arrays go to the large-object heap from {bytes / (1024.0 * 1024.0):F1} MB on ({Setting}), so a run's result arrays are allocated in gen0, mapped before each timed run.")
            : string.Create(CultureInfo.InvariantCulture, $"GC: arrays go to the large-object heap from {threshold ?? DefaultThreshold:N0} bytes on: a run's result arrays are mapped again in every timed run (docs/benchmarks.md, round 8).");
}
