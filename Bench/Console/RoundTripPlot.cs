using ScottPlot;

namespace CpuidFunctional.Bench.Console;

/// <summary>
/// The round-trip table as a PNG bar chart (ScottPlot 5, drawn by SkiaSharp; docs/benchmarks.md says why): one group
/// of bars per workload, one bar per policy, the median thread CPU nanoseconds per round trip (the column least
/// disturbed by other jobs on a shared machine).
/// </summary>
internal static class RoundTripPlot
{
    /// <summary>Pixels of the image.</summary>
    public const int Width = 960, Height = 540;

    /// <summary>The chart of <paramref name="rows"/> as PNG bytes.</summary>
    public static byte[] Png(IReadOnlyList<Measurement.Measurement> rows, string host)
    {
        var workloads = rows.Select(r => r.Workload).Distinct().ToArray();
        var policies = rows.Select(r => r.Policy).Distinct().ToArray();
        var group = policies.Length + 1; // one empty slot between workloads
        var palette = new ScottPlot.Palettes.Category10();
        var plot = new Plot();
        plot.Add.Bars(rows.Select(r => new Bar
        {
            Position = (Array.IndexOf(workloads, r.Workload) * group) + Array.IndexOf(policies, r.Policy),
            Value = r.CpuNanosecondsPerRoundTrip,
            FillColor = palette.GetColor(Array.IndexOf(policies, r.Policy)),
        }).ToList());
        foreach (var (policy, i) in policies.Select((p, i) => (p, i)))
        {
            plot.Legend.ManualItems.Add(new LegendItem { LabelText = policy, FillColor = palette.GetColor(i) });
        }
        plot.ShowLegend(Alignment.UpperLeft);
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
            [.. workloads.Select((w, i) => new Tick((i * group) + ((policies.Length - 1) / 2.0), w))]
        );
        plot.Axes.Bottom.MajorTickStyle.Length = 0;
        plot.Axes.Margins(bottom: 0);
        plot.YLabel("ns CPU per round trip (median of repetitions)");
        plot.Title($"Nested VMX and SVM round trips in the model on {ResultTable.Hosts(rows, host)}");
        return plot.GetImageBytes(Width, Height, ImageFormat.Png);
    }
}
