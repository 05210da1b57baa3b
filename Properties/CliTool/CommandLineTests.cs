using CpuidFunctional.Cli;
using CpuidFunctional.Core.Checking;
using CpuidFunctional.Properties.Scenarios;
using static CpuidFunctional.Properties.CliTool.CliRunner;

namespace CpuidFunctional.Properties.CliTool;

/// <summary>
/// cpuidf's options are System.CommandLine's typed options: a mistyped option keeps the library's "Did you mean"
/// suggestion, a bad value names the option and the reason, both are exit 2 on stderr with nothing on stdout, and each
/// name has one spelling (docs/cli.md).
/// </summary>
public sealed class CommandLineTests
{
    [Theory]
    [InlineData(new[] { "hots", "skylake-sp" }, "host")]
    [InlineData(new[] { "host", "skylake-sp", "--xcr", "0x7" }, "--xcr0")]
    [InlineData(new[] { "check", "--kernal", "6.15" }, "--kernel")]
    [InlineData(new[] { "exec", "a.bin", "--max-step", "5" }, "--max-steps")]
    [InlineData(new[] { "random", "--tarces", "3" }, "--traces")]
    public void A_mistyped_verb_or_option_is_exit_2_with_the_librarys_suggestion(string[] args, string suggestion)
    {
        var (exit, output, error) = Cpuidf(args);

        Assert.Equal(ExitCodes.BadInput, exit);
        Assert.Equal("", output);
        Assert.Contains($"was not matched. Did you mean one of the following?\n{suggestion}\n", error.ReplaceLineEndings("\n"), StringComparison.Ordinal);
        Assert.Contains("--help' for usage.", error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_mistyped_option_of_run_is_not_taken_for_a_scenario_file()
    {
        var (exit, output, error) = Cpuidf("run", "a.scn", "--shrad", "0/2");

        Assert.Equal(ExitCodes.BadInput, exit);
        Assert.Equal("", output);
        Assert.Contains("unknown option '--shrad'", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(new[] { "host", "skylake-sp", "--xss", "twelve" }, "--xss: bad number 'twelve' (expected 0xHEX or decimal)")]
    [InlineData(new[] { "run", "a.scn", "--bug", "NoSuchBug" }, "--bug: unknown wrong variant 'NoSuchBug' (expected one of ForgetCr4Trigger,")]
    [InlineData(new[] { "check", "--threads", "0" }, "--threads: must be at least 1, found 0")]
    [InlineData(new[] { "check", "--threads", "65" }, "--threads: at most 64, found 65")]
    [InlineData(new[] { "check", "--depth", "0x" }, "--depth: bad number '0x'")]
    [InlineData(new[] { "exec", "a.bin", "--kernel", "6.16" }, "--kernel: unknown kernel '6.16' (expected one of 6.15, 6.18).")]
    [InlineData(new[] { "exec", "a.bin", "--max-steps", "0" }, "--max-steps: must be at least 1, found 0")]
    [InlineData(new[] { "random", "--length", "100001" }, "--length: at most 100000, found 100001")]
    [InlineData(new[] { "random", "--seed", "-1" }, "--seed: bad number '-1'")]
    [InlineData(new[] { "random", "--shard", "2/2" }, "--shard: expected I/N with 0 <= I < N, found '2/2'")]
    public void A_bad_value_is_exit_2_naming_the_option_and_the_reason(string[] args, string message)
    {
        var (exit, output, error) = Cpuidf(args);

        Assert.Equal(ExitCodes.BadInput, exit);
        Assert.Equal("", output);
        Assert.Contains(message, error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("lazyunfixed", "lazy-unfixed")]
    [InlineData("Eager", "eager")]
    [InlineData("refrence", "reference")]
    public void A_policy_has_one_spelling_and_a_near_miss_is_answered_with_it(string typed, string canonical)
    {
        foreach (var verb in new[] { new[] { "check" }, ["exec", "a.bin"] })
        {
            var (exit, _, error) = Cpuidf([.. verb, "--policy", typed]);

            Assert.Equal(ExitCodes.BadInput, exit);
            Assert.Contains($"--policy: unknown policy '{typed}' (expected one of eager, lazy, lazy-unfixed, reference, all). Did you mean '{canonical}'?", error, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void A_wrong_variant_has_its_WrongRules_name_as_its_one_spelling()
    {
        var (exit, _, error) = Cpuidf("random", "--traces", "1", "--bug", "forgetcr4trigger");

        Assert.Equal(ExitCodes.BadInput, exit);
        Assert.Contains("Did you mean 'ForgetCr4Trigger'?", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Help_lists_the_names_an_option_accepts()
    {
        var (_, output, _) = Cpuidf("check", "--help");

        Assert.Contains("--policy <eager|lazy|lazy-unfixed|reference|all>", output, StringComparison.Ordinal);
        Assert.Contains("--kernel <6.15|6.18>", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Every_policy_name_maps_to_its_policy_and_back()
    {
        foreach (var (name, values) in Choices.Policies.Entries.Where(e => e.Values.Length == 1))
        {
            Assert.Equal(name, Assert.Single(values).Name);
        }
        Assert.Equal("lazy+ForgetCr4Trigger", new Policy(UpdateScheme.Lazy, WrongRules.ForgetCr4Trigger).Name);
    }

    [Fact]
    public void The_parse_error_examples_in_docs_cli_md_are_what_cpuidf_prints_on_stderr()
    {
        var lines = File.ReadAllLines(Path.Combine(RepositoryFiles.Checkout, "docs", "cli.md"));
        var open = Array.FindIndex(lines, l => l.StartsWith("$ cpuidf exec prog.bin --polcy", StringComparison.Ordinal));
        Assert.True(open > 0, "docs/cli.md lost its parse-error example");
        var close = Array.FindIndex(lines, open, l => l == "```");
        var examples = 0;
        for (var i = open; i < close; i++)
        {
            var next = Array.FindIndex(lines, i + 1, l => l.StartsWith("$ ", StringComparison.Ordinal) || l == "```");
            var (exit, output, error) = Cpuidf(lines[i]["$ cpuidf ".Length..].Split(' '));
            Assert.Equal(ExitCodes.BadInput, exit);
            Assert.Equal("", output);
            Assert.Equal(lines[(i + 1)..next], error.ReplaceLineEndings("\n").TrimEnd('\n').Split('\n'));
            examples++;
            i = next - 1;
        }
        Assert.Equal(2, examples);
    }
}
