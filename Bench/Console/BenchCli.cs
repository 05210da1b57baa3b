using System.CommandLine;
using System.Runtime.InteropServices;
using System.Text.Json;
using BenchmarkDotNet.Running;
using CpuidFunctional.Bench.Measurement;
using CpuidFunctional.Core;
using CpuidFunctional.Interpreter.Harness;
using Spectre.Console;

namespace CpuidFunctional.Bench.Console;

/// <summary>
/// The command line: with no arguments, the default experiment (every workload under every policy on Skylake-SP) and
/// one table; <c>bdn</c> hands the rest of the arguments to BenchmarkDotNet. Exit codes: 0 done, 1 a run failed,
/// 2 bad arguments (unknown option, workload or host, malformed dump file, non-positive counts, unwritable --json path).
/// </summary>
internal static class BenchCli
{
    /// <summary>Default round trips per timed run.</summary>
    public const int DefaultRoundTrips = 20_000;

    /// <summary>Default timed runs per (workload, policy).</summary>
    public const int DefaultRepetitions = 7;

    private const int Warmup = 2;

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, Converters = { new NaNAsNull() } };

    /// <summary>Parses and runs; <paramref name="console"/> gets the table, <paramref name="error"/> the errors.</summary>
    public static int Run(string[] args, IAnsiConsole console, TextWriter error)
    {
        var host = new Option<string>("--host")
        {
            Description = $"Host preset ({string.Join(", ", HostPresets.Names)}) or path of a CPUID dump (AIDA64 or 'cpuid -r')",
            DefaultValueFactory = _ => "skylake-sp",
        };
        var workload = new Option<string[]>("--workload")
        {
            Description = $"Workload(s) to run, repeatable: {string.Join(", ", Workloads.Names)} (default: all)",
            AllowMultipleArgumentsPerToken = true,
        };
        var roundTrips = new Option<int>("--round-trips")
        {
            Description = "Round trips per timed run",
            DefaultValueFactory = _ => DefaultRoundTrips,
        };
        var repetitions = new Option<int>("--repetitions")
        {
            Description = "Timed runs per workload and policy (the median is reported)",
            DefaultValueFactory = _ => DefaultRepetitions,
        };
        var policy = new Option<string[]>("--policy")
        {
            Description = $"Policies to run, repeatable: {string.Join(", ", BenchPolicy.All.Select(p => p.Name))} (default: all)",
            AllowMultipleArgumentsPerToken = true,
        };
        var json = new Option<string?>("--json") { Description = "Also write the results as JSON to this path" };

        var root = new RootCommand(
            "Nested VMX round trips in the CpuidFunctional model: Eager vs Lazy vs Reference vs a mutable baseline. "
                + "Always run it with -c Release."
        );
        root.Options.Add(host);
        root.Options.Add(workload);
        root.Options.Add(roundTrips);
        root.Options.Add(repetitions);
        root.Options.Add(policy);
        root.Options.Add(json);
        root.SetAction(parsed =>
            Experiment(
                parsed.GetValue(host)!,
                parsed.GetValue(workload) is { Length: > 0 } w ? w : [.. Workloads.Names],
                parsed.GetValue(roundTrips),
                parsed.GetValue(repetitions),
                parsed.GetValue(policy) is { Length: > 0 } p ? p : [.. BenchPolicy.All.Select(b => b.Name)],
                parsed.GetValue(json),
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

        var result = root.Parse(args);
        if (result.Errors.Count > 0)
        {
            // System.CommandLine's own exit code for a parse error is 1; ours is 2 (bad arguments).
            foreach (var problem in result.Errors)
            {
                error.WriteLine($"error: {problem.Message}");
            }
            error.WriteLine("Run with --help for the options.");
            return 2;
        }
        return result.Invoke(new InvocationConfiguration { Output = new AnsiTextWriter(console), Error = error });
    }

    private static int RunBenchmarkDotNet(string[] args, TextWriter error)
    {
#if DEBUG
        error.WriteLine("error: this is a Debug build; BenchmarkDotNet would measure nothing. Run: dotnet run -c Release --project Bench -- bdn ...");
        return 2;
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
        return failed ? 1 : 0;
#endif
    }

    private static int Experiment(
        string hostValue,
        string[] workloads,
        int roundTrips,
        int repetitions,
        string[] policyNames,
        string? jsonPath,
        IAnsiConsole console,
        TextWriter error
    )
    {
        HostCpu hostCpu;
        switch (HostResolver.Resolve(hostValue, File.ReadAllText))
        {
            case Result<HostCpu>.Ok(var resolved):
                hostCpu = resolved;
                break;
            case Result<HostCpu>.Error(var problem):
                error.WriteLine($"error: {problem}");
                return 2;
            default:
                throw new System.Diagnostics.UnreachableException();
        }
        var unknown = workloads.Where(w => !Workloads.Names.Contains(w, StringComparer.Ordinal)).ToArray();
        if (unknown.Length > 0)
        {
            error.WriteLine($"error: unknown workload '{unknown[0]}': expected one of {string.Join(", ", Workloads.Names)}");
            return 2;
        }
        if (roundTrips < 1 || repetitions < 1)
        {
            error.WriteLine("error: --round-trips and --repetitions must be at least 1");
            return 2;
        }
#if DEBUG
        console.MarkupLine("[yellow]warning: Debug build; the times below mean nothing. Use -c Release.[/]");
#endif
        var policies = BenchPolicy.All.Where(p => policyNames.Contains(p.Name, StringComparer.OrdinalIgnoreCase)).ToArray();
        if (policies.Length != policyNames.Distinct(StringComparer.OrdinalIgnoreCase).Count())
        {
            var known = BenchPolicy.All.Select(p => p.Name).ToArray();
            var unknownPolicy = policyNames.First(n => !known.Contains(n, StringComparer.OrdinalIgnoreCase));
            error.WriteLine($"error: unknown policy '{unknownPolicy}': expected one of {string.Join(", ", known)}");
            return 2;
        }
        using var jsonFile = jsonPath is null ? null : OpenForWriting(jsonPath, error);
        if (jsonPath is not null && jsonFile is null)
        {
            return 2;
        }
        IReadOnlyList<Measurement.Measurement> rows;
        try
        {
            var total = workloads.Length * policies.Length * (Warmup + repetitions);
            if (console.Profile.Capabilities.Interactive && (long)total * roundTrips > 200_000)
            {
                rows = [];
                console
                    .Progress()
                    .Start(ctx =>
                    {
                        var task = ctx.AddTask("round trips", maxValue: total);
                        rows = Measurer.Measure(workloads, policies, hostCpu, roundTrips, repetitions, Warmup, what =>
                        {
                            task.Description = what;
                            task.Increment(1);
                        });
                    });
            }
            else
            {
                rows = Measurer.Measure(workloads, policies, hostCpu, roundTrips, repetitions, Warmup);
            }
        }
        catch (InvalidOperationException e)
        {
            error.WriteLine($"error: {e.Message}");
            return 1;
        }

        console.Write(ResultTable.Build(rows, hostCpu.Name));
        console.WriteLine();
        console.Write(new Text(ResultTable.KernelFigures + Environment.NewLine));
        if (jsonFile is not null)
        {
            var document = new
            {
                host = hostCpu.Name,
                roundTrips,
                repetitions,
                warmup = Warmup,
                machine = new
                {
                    processorCount = Environment.ProcessorCount,
                    os = RuntimeInformation.OSDescription,
                    runtime = RuntimeInformation.FrameworkDescription,
                },
                results = rows,
            };
            JsonSerializer.Serialize(jsonFile!, document, Json);
        }
        return 0;
    }

    /// <summary>Creates (or truncates) the --json file before the run, so that an unwritable path fails at once.</summary>
    private static FileStream? OpenForWriting(string path, TextWriter error)
    {
        try
        {
            return new FileStream(path, FileMode.Create, FileAccess.Write);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            error.WriteLine($"error: cannot write {path}: {e.Message}");
            return null;
        }
    }
}
