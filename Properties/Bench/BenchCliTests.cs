using System.Text.Json;
using CpuidFunctional.Bench.Console;
using CpuidFunctional.Bench.Measurement;
using CpuidFunctional.Cli;
using Spectre.Console;

namespace CpuidFunctional.Properties.Bench;

/// <summary>The console's command line, invoked in-process: argument errors are messages and exit code 2, never exceptions.</summary>
public sealed class BenchCliTests : IDisposable
{
    private readonly string directory = Directory.CreateTempSubdirectory("bench-cli-").FullName;

    public void Dispose() => Directory.Delete(directory, recursive: true);

    private static (int Code, string Out, string Err) Invoke(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var console = AnsiConsole.Create(
            new AnsiConsoleSettings
            {
                Out = new AnsiConsoleOutput(output),
                Ansi = AnsiSupport.No,
                ColorSystem = ColorSystemSupport.NoColors,
                Interactive = InteractionSupport.No,
            }
        );
        console.Profile.Width = 200;
        var code = BenchCli.Run(args, console, error);
        return (code, output.ToString(), error.ToString());
    }

    [Fact]
    public void Unknown_workload_is_exit_code_2_naming_it_and_the_valid_ones()
    {
        var (code, _, err) = Invoke("--workload", "nope");
        Assert.Equal(2, code);
        Assert.Contains("unknown workload 'nope'", err, StringComparison.Ordinal);
        Assert.Contains("cpuid-loop", err, StringComparison.Ordinal);
    }

    [Fact]
    public void Unknown_host_is_exit_code_2_listing_the_presets()
    {
        var (code, _, err) = Invoke("--host", "pentium-pro");
        Assert.Equal(2, code);
        Assert.Contains("pentium-pro", err, StringComparison.Ordinal);
        Assert.Contains("sapphire-rapids", err, StringComparison.Ordinal);
    }

    [Fact]
    public void Malformed_dump_file_is_exit_code_2_naming_file_and_line()
    {
        var path = Path.Combine(directory, "broken.aida64.txt");
        File.WriteAllText(path, "CPUID 00000000: 0000000D-756E6547-6C65746E-49656E69\nCPUID 00000001: 00050654-zz-7FFEFBFF-BFEBFBFF\n");
        var (code, _, err) = Invoke("--host", path);
        Assert.Equal(2, code);
        Assert.Contains($"{path}:2:", err, StringComparison.Ordinal);
    }

    [Fact]
    public void Malformed_cpuid_r_file_is_reported_with_its_line_too()
    {
        var path = Path.Combine(directory, "broken.cpuid");
        File.WriteAllText(path, "CPU 0:\n   0x00000000 0x00: eax=0x0000000d ebx=0x756e6547 ecx=0x6c65746e edx=0x49656e69\n   0x00000001 0x00: eax=oops\n");
        var (code, _, err) = Invoke("--host", path);
        Assert.Equal(2, code);
        Assert.Contains($"{path}:3:", err, StringComparison.Ordinal);
    }

    [Fact]
    public void Non_positive_round_trips_are_refused()
    {
        var (code, _, err) = Invoke("--round-trips", "0");
        Assert.Equal(2, code);
        Assert.Contains("--round-trips", err, StringComparison.Ordinal);
    }

    [Fact]
    public void Unknown_policy_is_refused()
    {
        var (code, _, err) = Invoke("--policy", "Sloppy");
        Assert.Equal(2, code);
        Assert.Contains("unknown policy 'Sloppy'", err, StringComparison.Ordinal);
    }

    [Fact]
    public void Help_lists_the_options()
    {
        var (code, output, _) = Invoke("--help");
        Assert.Equal(0, code);
        foreach (var option in new[] { "--host", "--workload", "--round-trips", "--repetitions", "--policy", "--json", "--csv", "--markdown", "bdn" })
        {
            Assert.Contains(option, output, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void A_small_run_prints_the_table_and_the_kernel_figures_and_writes_json()
    {
        var json = Path.Combine(directory, "out.json");
        var (code, output, err) = Invoke("--workload", "l1-cpuid", "--round-trips", "20", "--repetitions", "1", "--json", json);
        Assert.True(code == 0, err);
        Assert.Contains("mutable-lazy", output, StringComparison.Ordinal);
        Assert.Contains("KERNEL's measurements", output, StringComparison.Ordinal);
        Assert.Contains("6850", output, StringComparison.Ordinal);
        Assert.Contains("GC: ", output, StringComparison.Ordinal);

        using var document = JsonDocument.Parse(File.ReadAllText(json));
        Assert.True(document.RootElement.GetProperty("machine").TryGetProperty("gen0BudgetBytes", out _));
        Assert.Contains("large-object heap", output, StringComparison.Ordinal);
        // The test host has no threshold of its own: the runtime's default.
        Assert.Equal(LargeObjects.DefaultThreshold, document.RootElement.GetProperty("machine").GetProperty("largeObjectThresholdBytes").GetInt64());
        var results = document.RootElement.GetProperty("results").EnumerateArray().ToArray();
        Assert.Equal(["eager", "lazy", "reference", "mutable-eager", "mutable-lazy"], results.Select(r => r.GetProperty("policy").GetString()));
        var lazy = results.Single(r => r.GetProperty("policy").GetString() == "lazy");
        Assert.Equal(1.0, lazy.GetProperty("runtimeUpdatesPerRoundTrip").GetDouble());
        Assert.True(lazy.GetProperty("nanosecondsPerRoundTrip").GetDouble() > 0);
        Assert.True(lazy.GetProperty("bytesPerRoundTrip").GetDouble() >= 0);
        Assert.True(lazy.GetProperty("gcPauseNanosecondsPerRoundTrip").GetDouble() >= 0);
        // The header is right-aligned and padded to its widest value: one collection in a 20-round-trip run can be a
        // six-digit pause per round trip, so the header reads "|  ns GC |" then.
        Assert.Matches(@"\|\s*ns GC\s*\|", output);
    }

    [Fact]
    public void The_meter_around_a_run_counts_a_collections_pause_and_only_this_threads_bytes()
    {
        var collecting = Measurer.Meter.Start();
        GC.Collect();
        var collected = collecting.Read();
        Assert.True(collected.GcPauseNanoseconds > 0, $"a forced collection paused for {collected.GcPauseNanoseconds} ns");
        Assert.True(collected.Nanoseconds >= collected.GcPauseNanoseconds, $"the pause ({collected.GcPauseNanoseconds} ns) is part of the run's {collected.Nanoseconds} ns");

        var allocating = Measurer.Meter.Start();
        GC.KeepAlive(new byte[1000]);
        var allocated = allocating.Read();
        Assert.InRange(allocated.Bytes, 1000, 1100);
    }

    [Fact]
    public void A_mistyped_option_is_exit_code_2_with_the_librarys_suggestion()
    {
        var (code, output, err) = Invoke("--round-trip", "20");
        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Equal("", output);
        Assert.Contains("'--round-trip' was not matched. Did you mean one of the following?\n--round-trips\n", err.ReplaceLineEndings("\n"), StringComparison.Ordinal);
        Assert.Contains($"Run '{BenchCli.Tool} --help' for usage.", err, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(new[] { "--repetitions", "0" }, "--repetitions: must be at least 1, found 0")]
    [InlineData(new[] { "--round-trips", "lots" }, "--round-trips: bad number 'lots' (expected 0xHEX or decimal)")]
    [InlineData(new[] { "--policy", "Mutable-Eager" }, "--policy: unknown policy 'Mutable-Eager' (expected one of eager, lazy, reference, mutable-eager, mutable-lazy). Did you mean 'mutable-eager'?")]
    [InlineData(new[] { "--workload", "cpuid-lop" }, "--workload: unknown workload 'cpuid-lop' (expected one of cpuid-loop, kvm-like-l1, l1-cpuid, cr4-toggle, svm-cpuid-loop, svm-cpuid-l0). Did you mean 'cpuid-loop'?")]
    public void A_bad_value_is_exit_code_2_naming_the_option_and_the_reason(string[] args, string message)
    {
        var (code, output, err) = Invoke(args);
        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Equal("", output);
        Assert.Contains(message, err, StringComparison.Ordinal);
    }

    [Fact]
    public void The_policies_are_spelt_as_cpuidf_spells_them()
    {
        Assert.Equal(["eager", "lazy", "reference", "mutable-eager", "mutable-lazy"], BenchNames.Policies.Names);
        Assert.All(BenchNames.Policies.Values.Where(p => p.Functional is not null), p => Assert.Contains(p.Name, Choices.Policies.Names));
    }

    [Fact]
    public void A_host_dump_from_dev_zero_is_refused_as_not_a_regular_file_with_exit_code_2()
    {
        Assert.SkipUnless(File.Exists("/dev/zero"), "no /dev/zero here");
        var (code, _, err) = Invoke("--host", "/dev/zero");
        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Contains("/dev/zero: cannot read the file: not a regular file", err, StringComparison.Ordinal);
    }

    [Fact]
    public void An_exception_escaping_the_run_is_a_one_line_internal_error_with_exit_code_70()
    {
        var error = new StringWriter();
        var code = ToolRunner.Guarded(BenchCli.Tool, error, () => throw new InvalidOperationException("boom"));
        Assert.Equal(ExitCodes.InternalError, code);
        Assert.Equal($"internal error: InvalidOperationException: boom (this is a bug in {BenchCli.Tool}; please report it with the command line)", error.ToString().TrimEnd());
    }

    [Fact]
    public void An_unwritable_json_path_is_refused_before_the_run()
    {
        var json = Path.Combine(directory, "no-such-folder", "out.json");
        var (code, output, err) = Invoke("--workload", "l1-cpuid", "--round-trips", "20", "--repetitions", "1", "--json", json);
        Assert.Equal(2, code);
        Assert.Contains("cannot write", err, StringComparison.Ordinal);
        Assert.DoesNotContain("round trips on", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Without_Eager_the_ratios_to_Eager_are_a_dash_and_json_null_not_NaN()
    {
        var json = Path.Combine(directory, "lazy.json");
        var (code, output, err) = Invoke("--policy", "lazy", "--workload", "l1-cpuid", "--round-trips", "20", "--repetitions", "1", "--json", json);
        Assert.True(code == 0, err);
        Assert.DoesNotContain("NaN", output, StringComparison.Ordinal);
        using var document = JsonDocument.Parse(File.ReadAllText(json));
        var lazy = Assert.Single(document.RootElement.GetProperty("results").EnumerateArray());
        Assert.Equal(JsonValueKind.Null, lazy.GetProperty("relativeToEager").ValueKind);
    }
}
