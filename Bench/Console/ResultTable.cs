using System.Globalization;
using CpuidFunctional.Bench.Measurement;
using Spectre.Console;

namespace CpuidFunctional.Bench.Console;

/// <summary>The console's one table, and the kernel's own figures printed under it.</summary>
internal static class ResultTable
{
    private static string F(double value, string format) => value.ToString(format, CultureInfo.InvariantCulture);

    /// <summary>A ratio to Eager, or "-" when Eager was not run (the ratio is NaN).</summary>
    private static string Ratio(double value) => double.IsNaN(value) ? "-" : F(value, "0.00") + "x";

    /// <summary>The measurements as a table.</summary>
    public static Table Build(IReadOnlyList<Measurement.Measurement> rows, string host)
    {
        var table = new Table { Border = TableBorder.Markdown };
        table.Title = new TableTitle($"Nested VMX and SVM round trips on {Markup.Escape(Hosts(rows, host))} (per round trip; time = median of repetitions)");
        table.AddColumn("workload");
        table.AddColumn("policy");
        table.AddColumn(new TableColumn("round trips").RightAligned());
        table.AddColumn(new TableColumn("CPUID updates").RightAligned());
        table.AddColumn(new TableColumn("XSAVE sizes").RightAligned());
        table.AddColumn(new TableColumn("insns").RightAligned());
        table.AddColumn(new TableColumn("ns wall").RightAligned());
        table.AddColumn(new TableColumn("ns CPU").RightAligned());
        table.AddColumn(new TableColumn("bytes").RightAligned());
        table.AddColumn(new TableColumn("ns GC").RightAligned());
        table.AddColumn(new TableColumn("vs Eager (wall)").RightAligned());
        table.AddColumn(new TableColumn("vs Eager (CPU)").RightAligned());
        foreach (var r in rows)
        {
            table.AddRow(
                r.Workload,
                r.Policy,
                r.RoundTrips.ToString(CultureInfo.InvariantCulture),
                F(r.RuntimeUpdatesPerRoundTrip, "0.##"),
                F(r.XstateSizeComputationsPerRoundTrip, "0.##"),
                F(r.InstructionsPerRoundTrip, "0.#"),
                F(r.NanosecondsPerRoundTrip, "0"),
                F(r.CpuNanosecondsPerRoundTrip, "0"),
                F(r.BytesPerRoundTrip, "0"),
                F(r.GcPauseNanosecondsPerRoundTrip, "0"),
                Ratio(r.RelativeToEager),
                Ratio(r.CpuRelativeToEager)
            );
        }
        return table;
    }

    /// <summary>
    /// The host of the run, and the workloads that ran elsewhere (the SVM ones on an AMD host when the host is Intel,
    /// the VMX ones on an Intel host when it is AMD):
    /// <c>skylake-sp; svm-cpuid-loop, svm-cpuid-l0 on genoa</c>.
    /// </summary>
    public static string Hosts(IReadOnlyList<Measurement.Measurement> rows, string host) =>
        string.Concat(
            new[] { host }.Concat(
                rows.Where(r => r.Host != host)
                    .GroupBy(r => r.Host)
                    .Select(g => $"; {string.Join(", ", g.Select(r => r.Workload).Distinct())} on {g.Key}")
            )
        );

    /// <summary>The seed's kernel measurements (spec §9), clearly not ours.</summary>
    public static string KernelFigures =>
        """
        For context, the KERNEL's measurements (not this model's): cycles per nested VMX round trip, L2 running CPUID
        in a tight loop, L1 a slightly modified KVM (commit 93da6af3 and patch 1/5, spec section 9):
          host                     before caching   eager (6.14)   lazy (6.15, 93da6af3)
          Skylake-SP (SKX)                  11650           6850            6450
          Ice Lake-SP (ICX)                 22350           9000            8800
          Emerald Rapids (EMR)              28850           7900            7700
        The model counts the work (runtime updates, XSAVE-size computations) that those cycles pay for; its
        nanoseconds measure this C# model, not KVM.
        """;
}
