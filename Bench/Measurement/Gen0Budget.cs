namespace CpuidFunctional.Bench.Measurement;

/// <summary>
/// The GC's gen0 budget as this process runs it: how much was allocated in gen0 when the last gen0 or gen1 collection
/// started. .NET sizes the budget from the CPU's largest cache; a VM that hides its caches gets about 2 MB, and then
/// the functional rows pay for many more collections than on the hardware underneath (docs/benchmarks.md, "How to read
/// it"). The mutable baseline allocates nothing and pays none.
/// </summary>
internal static class Gen0Budget
{
    /// <summary>Below this the console adds a note to its table: a budget that small is not what cache-sized hardware gives.</summary>
    public const long Small = 8L << 20;

    /// <summary>The budget seen at the last ephemeral collection, or null if there was none yet.</summary>
    public static long? Observed()
    {
        var info = GC.GetGCMemoryInfo(GCKind.Ephemeral);
        return info.Index == 0 ? null : info.GenerationInfo[0].SizeBeforeBytes;
    }

    /// <summary>Size of the arrays <see cref="Touch"/> allocates: small-object heap, a page each.</summary>
    private const int TouchArrayBytes = 4000;

    /// <summary>What <see cref="Touch"/> allocates when no collection has shown the budget yet.</summary>
    private const long TouchFallback = 2L << 20;

    /// <summary>
    /// Allocates and drops small arrays, as many bytes as the coming run allocates plus one gen0 budget (the observed
    /// budget, or 2 MB before any collection), so that the memory the run allocates in is mapped before it starts, as
    /// it is in a program that has been allocating for a while. Between runs the GC gives memory back to the system,
    /// and on this VM each page fault costs about 14 µs: mapping 2 MB again cost a cpuid-loop run about 330 ns per
    /// round trip, and a run that allocates several budgets faulted in what one budget had not mapped
    /// (docs/benchmarks.md, rounds 6 and 12).
    /// </summary>
    /// <param name="runBytes">What the coming run allocates (its policy's previous run), or 0 if unknown.</param>
    public static void Touch(long runBytes = 0)
    {
        var bytes = runBytes + (Observed() ?? TouchFallback);
        for (var allocated = 0L; allocated < bytes; allocated += TouchArrayBytes)
        {
            GC.KeepAlive(new byte[TouchArrayBytes]);
        }
    }

    /// <summary>The line the console prints under its table for a budget (null: no ephemeral collection yet).</summary>
    public static string Line(long? budget) =>
        budget switch
        {
            null => "GC: no gen0 collection yet in this process.",
            < Small => $"GC: gen0 was collected every {Megabytes(budget.Value)} allocated, a small budget (the runtime sizes it from the CPU's caches, "
                + "which this machine may hide): the functional rows pay for more collections than on hardware that shows them. "
                + "To compare, run with DOTNET_GCgen0size=0x2000000 in the environment (docs/benchmarks.md, \"How to read it\").",
            _ => $"GC: gen0 was collected every {Megabytes(budget.Value)} allocated.",
        };

    private static string Megabytes(long bytes) => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{bytes / (1024.0 * 1024.0):F1} MB");
}
