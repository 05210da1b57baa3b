using System.Text.Json;
using CpuidFunctional.Bench.Console;
using Spectre.Console;

namespace CpuidFunctional.Properties.Bench;

/// <summary>
/// The round-trip table as files: JSON, CSV and markdown share one schema (the JSON row keys, in order), and the plot
/// next to the JSON is a real PNG. One small run (2 workloads x 2 policies) writes them all.
/// </summary>
public sealed class RoundTripExportTests : IDisposable
{
    private readonly string directory = Directory.CreateTempSubdirectory("bench-export-").FullName;

    public void Dispose() => Directory.Delete(directory, recursive: true);

    private string Json => Path.Combine(directory, "rt.json");

    private string Csv => Path.Combine(directory, "rt.csv");

    private string Markdown => Path.Combine(directory, "rt.md");

    private void RunSmallExperiment()
    {
        var error = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(new StringWriter()), Interactive = InteractionSupport.No });
        var code = BenchCli.Run(
            ["--workload", "l1-cpuid", "cr4-toggle", "--policy", "lazy", "mutable-eager", "--round-trips", "20", "--repetitions", "1", "--json", Json, "--csv", Csv, "--markdown", Markdown],
            console,
            error
        );
        Assert.True(code == 0, error.ToString());
    }

    private static readonly (string Workload, string Policy)[] Expected =
        [("l1-cpuid", "lazy"), ("l1-cpuid", "mutable-eager"), ("cr4-toggle", "lazy"), ("cr4-toggle", "mutable-eager")];

    private string[] JsonKeys()
    {
        using var document = JsonDocument.Parse(File.ReadAllText(Json));
        return [.. document.RootElement.GetProperty("results")[0].EnumerateObject().Select(p => p.Name)];
    }

    [Fact]
    public void The_json_rows_have_camelCase_keys_and_every_workload_policy_pair()
    {
        RunSmallExperiment();

        using var document = JsonDocument.Parse(File.ReadAllText(Json));
        var rows = document.RootElement.GetProperty("results").EnumerateArray().ToArray();
        Assert.Equal(Expected, rows.Select(r => (r.GetProperty("workload").GetString()!, r.GetProperty("policy").GetString()!)));
        Assert.All(JsonKeys(), key => Assert.True(char.IsLower(key[0]), $"key '{key}' is not camelCase"));
        Assert.All(document.RootElement.EnumerateObject(), p => Assert.True(char.IsLower(p.Name[0]), $"key '{p.Name}' is not camelCase"));
    }

    [Fact]
    public void The_csv_has_the_json_keys_as_header_and_one_parsable_line_per_row()
    {
        RunSmallExperiment();

        var lines = File.ReadAllLines(Csv);
        Assert.Equal(JsonKeys(), lines[0].Split(','));
        Assert.Equal(Expected.Length, lines.Length - 1);
        using var document = JsonDocument.Parse(File.ReadAllText(Json));
        var rows = document.RootElement.GetProperty("results").EnumerateArray().ToArray();
        foreach (var (line, row) in lines[1..].Zip(rows))
        {
            var fields = line.Split(',');
            Assert.Equal(lines[0].Split(',').Length, fields.Length);
            Assert.Equal(row.GetProperty("workload").GetString(), fields[0]);
            Assert.Equal(row.GetProperty("policy").GetString(), fields[1]);
            var ns = Array.IndexOf(lines[0].Split(','), "nanosecondsPerRoundTrip");
            Assert.Equal(row.GetProperty("nanosecondsPerRoundTrip").GetDouble(), double.Parse(fields[ns], System.Globalization.CultureInfo.InvariantCulture));
            var ratio = Array.IndexOf(lines[0].Split(','), "relativeToEager");
            Assert.Equal("", fields[ratio]); // Eager was not run: null in JSON, empty in CSV
        }
    }

    [Fact]
    public void The_markdown_is_a_table_with_the_json_keys_as_header_and_one_row_per_measurement()
    {
        RunSmallExperiment();

        var lines = File.ReadAllLines(Markdown);
        Assert.Equal(JsonKeys(), Cells(lines[0]));
        Assert.All(Cells(lines[1]), c => Assert.Equal("---", c));
        Assert.Equal(Expected, lines[2..].Select(l => (Cells(l)[0], Cells(l)[1])));
        Assert.All(lines[2..], l => Assert.Equal(JsonKeys().Length, Cells(l).Length));
    }

    [Fact]
    public void The_plot_next_to_the_json_is_a_png_of_a_real_size()
    {
        RunSmallExperiment();

        var png = File.ReadAllBytes(Path.ChangeExtension(Json, ".png"));
        Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A], png[..8]);
        Assert.Equal(RoundTripPlot.Width, System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(16)));
        Assert.Equal(RoundTripPlot.Height, System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(20)));
        Assert.True(png.Length > 10_000, $"a {png.Length}-byte PNG has no bars, labels or legend in it");
    }

    [Fact]
    public void An_unwritable_csv_path_is_refused_before_the_run()
    {
        var error = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(new StringWriter()), Interactive = InteractionSupport.No });
        var csv = Path.Combine(directory, "missing", "rt.csv");

        var code = BenchCli.Run(["--workload", "l1-cpuid", "--round-trips", "20", "--repetitions", "1", "--json", Json, "--csv", csv], console, error);

        Assert.Equal(2, code);
        Assert.Contains($"cannot write {csv}", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Two_outputs_on_one_file_are_refused_before_the_run()
    {
        var error = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(new StringWriter()), Interactive = InteractionSupport.No });
        var png = Path.Combine(directory, "rt.png");

        var code = BenchCli.Run(["--workload", "l1-cpuid", "--json", png], console, error);

        Assert.Equal(2, code);
        Assert.Contains($"two outputs would be written to {png}", error.ToString(), StringComparison.Ordinal);
        Assert.False(File.Exists(png));
    }

    private static string[] Cells(string line) => [.. line.Trim().Trim('|').Split('|').Select(c => c.Trim())];
}
