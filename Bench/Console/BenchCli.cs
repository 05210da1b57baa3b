using System.CommandLine;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using BenchmarkDotNet.Running;
using CpuidFunctional.Bench.Measurement;
using CpuidFunctional.Cli;
using CpuidFunctional.Core;
using Spectre.Console;

namespace CpuidFunctional.Bench.Console;

/// <summary>
/// The command line: with no arguments, the default experiment (every workload under every policy on Skylake-SP) and
/// one table; <c>bdn</c> hands the rest of the arguments to BenchmarkDotNet. Exit codes are cpuidf's
/// (<see cref="ExitCodes"/>, run by <see cref="ToolRunner"/>): 0 done, 1 a run failed, 2 bad arguments (unknown
/// option, workload, policy or host, malformed or irregular dump file, non-positive counts, an output file that cannot
/// be written), 70 an internal error.
/// </summary>
internal static class BenchCli
{
    /// <summary>How the console is started, for its messages.</summary>
    public const string Tool = "dotnet run -c Release --project Bench --";

    /// <summary>Default round trips per timed run.</summary>
    public const int DefaultRoundTrips = 20_000;

    /// <summary>Default timed runs per (workload, policy).</summary>
    public const int DefaultRepetitions = 7;

    private const int Warmup = 2;

    /// <summary>Parses and runs; <paramref name="console"/> gets the table, <paramref name="error"/> the errors.</summary>
    public static int Run(string[] args, IAnsiConsole console, TextWriter error)
    {
        var host = new Option<string>("--host")
        {
            Description = $"Host preset ({string.Join(", ", HostPresets.Names)}) or path of a CPUID dump (AIDA64 or 'cpuid -r'); the SVM workloads run on genoa unless it is AMD or Hygon, the VMX ones on skylake-sp if it is",
            HelpName = "PRESET|PATH",
            DefaultValueFactory = _ => "skylake-sp",
        };
        var workload = BenchNames.Workloads.Many("--workload", "Workloads to run (default: all); repeatable");
        var roundTrips = Numbers.Option("--round-trips", "Round trips per timed run", 1, int.MaxValue, DefaultRoundTrips);
        var repetitions = Numbers.Option("--repetitions", "Timed runs per workload and policy (the median is reported)", 1, 1000, DefaultRepetitions);
        var policy = BenchNames.Policies.Many("--policy", "Policies to run (default: all); repeatable");
        var json = new Option<string?>("--json") { HelpName = "PATH", Description = "Also write the results as JSON to this path, and the plot of the table next to it (same name, .png)" };
        var csv = new Option<string?>("--csv") { HelpName = "PATH", Description = "Also write the table as CSV (the JSON rows' keys as header) to this path" };
        var markdown = new Option<string?>("--markdown") { HelpName = "PATH", Description = "Also write the table as a markdown table (the JSON rows' keys as header) to this path" };

        var root = new RootCommand(
            "Nested VMX and SVM round trips in the CpuidFunctional model: Eager vs Lazy vs Reference vs a mutable baseline. "
                + "Always run it with -c Release."
        )
        {
            host, workload, roundTrips, repetitions, policy, json, csv, markdown,
        };
        root.SetAction(parsed =>
            Experiment(
                parsed.GetValue(host)!,
                parsed.GetValue(workload) is { Length: > 0 } w ? w : [.. BenchNames.Workloads.Values],
                parsed.GetValue(roundTrips),
                parsed.GetValue(repetitions),
                parsed.GetValue(policy) is { Length: > 0 } p ? p : [.. BenchNames.Policies.Values],
                new Outputs(parsed.GetValue(json), parsed.GetValue(csv), parsed.GetValue(markdown)),
                console,
                error
            )
        );

        var bdn = new Command("bdn", "Run the BenchmarkDotNet suite; the remaining arguments go to BenchmarkDotNet (e.g. --filter '*' --job short)")
        {
            TreatUnmatchedTokensAsErrors = false,
        };
        bdn.SetAction(parsed => RunBenchmarkDotNet([.. parsed.UnmatchedTokens], error));
        root.Subcommands.Add(bdn);

        return ToolRunner.Run(Tool, root, args, new AnsiTextWriter(console), error);
    }

    private static int RunBenchmarkDotNet(string[] args, TextWriter error)
    {
#if DEBUG
        error.WriteLine("error: this is a Debug build; BenchmarkDotNet would measure nothing. Run: dotnet run -c Release --project Bench -- bdn ...");
        return ExitCodes.BadInput;
#else
        // In-process (InProcessEmitToolchain): BenchmarkDotNet's generated-project toolchain looks for a project file
        // named after the assembly (CpuidFunctional.Bench.csproj) and cannot find Bench/Bench.csproj.
        string[] withToolchain = args.Contains("--inProcess", StringComparer.OrdinalIgnoreCase) ? args : [.. args, "--inProcess"];
        var summaries = BenchmarkSwitcher.FromAssembly(typeof(BenchCli).Assembly).Run(withToolchain);
        var failed = summaries.Any(s => s.HasCriticalValidationErrors || s.Reports.Any(r => !r.Success));
        if (failed)
        {
            error.WriteLine("error: BenchmarkDotNet reported failed or invalid benchmarks (see its log above)");
        }
        return failed ? ExitCodes.Failed : ExitCodes.Ok;
#endif
    }

    /// <summary>The files asked for; the plot goes next to the JSON.</summary>
    private sealed record Outputs(string? Json, string? Csv, string? Markdown)
    {
        public string? Plot => Json is null ? null : Path.ChangeExtension(Json, ".png");

        public IEnumerable<string> Paths => new[] { Json, Plot, Csv, Markdown }.OfType<string>();
    }

    private static int Experiment(
        string hostValue,
        string[] workloads,
        int roundTrips,
        int repetitions,
        BenchPolicy[] policies,
        Outputs outputs,
        IAnsiConsole console,
        TextWriter error
    )
    {
        HostCpu hostCpu;
        switch (HostResolver.Resolve(hostValue, InputFiles.ReadText))
        {
            case Result<HostCpu>.Ok(var resolved):
                hostCpu = resolved;
                break;
            case Result<HostCpu>.Error(var problem):
                error.WriteLine($"error: --host: {problem}");
                return ExitCodes.BadInput;
            default:
                throw new System.Diagnostics.UnreachableException();
        }
#if DEBUG
        console.MarkupLine("[yellow]warning: Debug build; the times below mean nothing. Use -c Release.[/]");
#endif
        if (outputs.Paths.GroupBy(Path.GetFullPath).FirstOrDefault(g => g.Count() > 1) is { } clash)
        {
            error.WriteLine($"error: two outputs would be written to {clash.Key} (the plot goes to the --json path with .png)");
            return ExitCodes.BadInput;
        }
        // Every output file is created (or truncated) before the run, so that an unwritable path fails at once.
        var files = new Dictionary<string, FileStream>();
        try
        {
            foreach (var path in outputs.Paths)
            {
                if (OpenForWriting(path, error) is not { } file)
                {
                    return ExitCodes.BadInput;
                }
                files[path] = file;
            }
            if (Measure(workloads, policies, hostCpu, roundTrips, repetitions, console, error) is not { } measured)
            {
                return ExitCodes.Failed;
            }
            var rows = measured;
            var gen0 = Gen0Budget.Observed();
            var largeObjects = LargeObjects.Configured();
            console.Write(ResultTable.Build(rows, hostCpu.Name));
            console.WriteLine();
            console.Write(new Text(ResultTable.KernelFigures + Environment.NewLine));
            console.Write(new Text(Gen0Budget.Line(gen0) + Environment.NewLine));
            console.Write(new Text(LargeObjects.Line(largeObjects) + Environment.NewLine));
            Write(files, outputs.Json, s => JsonSerializer.Serialize(s, Document(hostCpu.Name, roundTrips, repetitions, gen0, largeObjects, rows), RoundTripExport.Json));
            Write(files, outputs.Plot, s => s.Write(RoundTripPlot.Png(rows, hostCpu.Name)));
            Write(files, outputs.Csv, s => s.Write(Encoding.UTF8.GetBytes(RoundTripExport.Csv(rows))));
            Write(files, outputs.Markdown, s => s.Write(Encoding.UTF8.GetBytes(RoundTripExport.Markdown(rows))));
            return ExitCodes.Ok;
        }
        finally
        {
            foreach (var file in files.Values)
            {
                file.Dispose();
            }
        }
    }

    private static void Write(Dictionary<string, FileStream> files, string? path, Action<Stream> write)
    {
        if (path is not null)
        {
            write(files[path]);
        }
    }

    /// <summary>The JSON document: the run's parameters, the machine, and the rows (<see cref="RoundTripExport"/>).</summary>
    private static object Document(string host, int roundTrips, int repetitions, long? gen0Budget, long? largeObjectThreshold, IReadOnlyList<Measurement.Measurement> rows) =>
        new
        {
            host,
            roundTrips,
            repetitions,
            warmup = Warmup,
            machine = new
            {
                processorCount = Environment.ProcessorCount,
                os = RuntimeInformation.OSDescription,
                runtime = RuntimeInformation.FrameworkDescription,
                gen0BudgetBytes = gen0Budget,
                largeObjectThresholdBytes = largeObjectThreshold ?? LargeObjects.DefaultThreshold,
            },
            results = rows,
        };

    /// <summary>The measurements, with a progress bar on an interactive console; null if a run failed (reported).</summary>
    private static IReadOnlyList<Measurement.Measurement>? Measure(
        string[] workloads,
        BenchPolicy[] policies,
        HostCpu hostCpu,
        int roundTrips,
        int repetitions,
        IAnsiConsole console,
        TextWriter error
    )
    {
        try
        {
            var total = workloads.Length * policies.Length * (Warmup + repetitions);
            if (!console.Profile.Capabilities.Interactive || (long)total * roundTrips <= 200_000)
            {
                return Measurer.Measure(workloads, policies, hostCpu, roundTrips, repetitions, Warmup);
            }
            IReadOnlyList<Measurement.Measurement> rows = [];
            console
                .Progress()
                .Start(ctx =>
                {
                    var task = ctx.AddTask("round trips", maxValue: total);
                    rows = Measurer.Measure(workloads, policies, hostCpu, roundTrips, repetitions, Warmup, what =>
                    {
                        task.Description = Markup.Escape(what);
                        task.Increment(1);
                    });
                });
            return rows;
        }
        catch (InvalidOperationException e)
        {
            error.WriteLine($"error: {e.Message}");
            return null;
        }
    }

    /// <summary>Creates (or truncates) an output file before the run, so that an unwritable path fails at once.</summary>
    private static FileStream? OpenForWriting(string path, TextWriter error)
    {
        try
        {
            return new FileStream(path, FileMode.Create, FileAccess.Write);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            error.WriteLine($"error: cannot write {path}: {e.Message}");
            return null;
        }
    }
}
