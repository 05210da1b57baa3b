using System.Globalization;
using System.Text.RegularExpressions;
using CpuidFunctional.Cli;
using CpuidFunctional.Core.Checking;
using static CpuidFunctional.Properties.CliTool.CliRunner;

namespace CpuidFunctional.Properties.CliTool;

/// <summary><c>cpuidf random</c>: deterministic, shardable random traces checked for Eager/Lazy/Reference agreement.</summary>
public partial class RandomCommandTests
{
    [GeneratedRegex(@"checked (\d+) traces, (\d+) events")]
    private static partial Regex Figures();

    private static (long Traces, long Events) Checked(string output)
    {
        var m = Figures().Match(output);
        Assert.True(m.Success, "no figures in:\n" + output);
        return (long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), long.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture));
    }

    [Fact]
    public void A_small_run_passes_with_exit_code_0()
    {
        var (exit, output, error) = Cpuidf("random", "--traces", "300", "--seed", "7");

        Assert.Equal(ExitCodes.Ok, exit);
        Assert.StartsWith("time: ", error, StringComparison.Ordinal); // only the timing goes to stderr
        Assert.Equal(300, Checked(output).Traces);
        Assert.Contains("eager, lazy, reference agree at every observation", output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0, 101)]
    [InlineData(13, 50)]
    public void Two_shards_together_check_exactly_the_traces_of_the_unsharded_run(long start, long traces)
    {
        string[] run = ["random", "--seed", "42", "--start", $"{start}", "--traces", $"{traces}", "--length", "12"];

        var whole = Checked(Cpuidf(run).Output);
        var shard0 = Checked(Cpuidf([.. run, "--shard", "0/2"]).Output);
        var shard1 = Checked(Cpuidf([.. run, "--shard", "1/2"]).Output);

        Assert.Equal(traces, whole.Traces);
        Assert.Equal(whole.Traces, shard0.Traces + shard1.Traces);
        Assert.Equal(whole.Events, shard0.Events + shard1.Events); // the same traces, not just as many
    }

    [Fact]
    public void A_deliberately_wrong_lazy_policy_fails_with_a_script_and_a_command_that_reproduces_it()
    {
        var (exit, output, _) = Cpuidf("random", "--traces", "200", "--bug", "ForgetCr4Trigger");

        Assert.Equal(ExitCodes.Failed, exit);
        Assert.Contains("FAILED: trace ", output, StringComparison.Ordinal);
        Assert.Contains("  1. KVM_SET_CPUID2", output, StringComparison.Ordinal);
        // The CR4 write the bug forgets to trigger on: a guest's, the VMM's or a nested transition's CR4 load.
        Assert.Matches(@"\. (MOV CR4, |KVM_SET_SREGS cr4=|VM-ENTRY guest CR4=|VM-EXIT host CR4=|VMRUN save\.cr4=|#VMEXIT)", output);
        Assert.Contains("lazy+ForgetCr4Trigger -> ", output, StringComparison.Ordinal);
        var reproduce = output.Split('\n').Single(l => l.StartsWith("reproduce: cpuidf ", StringComparison.Ordinal));
        Assert.EndsWith("--traces 1 --bug ForgetCr4Trigger", reproduce, StringComparison.Ordinal);

        var (again, rerun, _) = Cpuidf(reproduce["reproduce: cpuidf ".Length..].Split(' '));

        Assert.Equal(ExitCodes.Failed, again);
        Assert.Contains(output[..output.IndexOf("reproduce:", StringComparison.Ordinal)], rerun, StringComparison.Ordinal);
    }

    [Fact]
    public void Trace_k_depends_only_on_the_seed_and_k()
    {
        var hosts = HostPresets.Presets.Select(p => p.Host).ToList();
        KernelProfile[] profiles = [KernelProfile.Linux6_15, KernelProfile.Linux6_18];
        var a = new RandomTraceGenerator(hosts, profiles);
        var b = new RandomTraceGenerator(hosts, profiles);

        Assert.Equal(a.Generate(5, 1234), b.Generate(5, 1234));
        Assert.NotEqual(a.Generate(5, 1234), a.Generate(5, 1235));
        Assert.NotEqual(a.Generate(5, 1234), a.Generate(6, 1234));
    }

    [Fact]
    public void Generated_traces_are_left_unchanged_by_the_MWAIT_quirk_rule_and_end_with_an_observation()
    {
        var generator = new RandomTraceGenerator([.. HostPresets.Presets.Select(p => p.Host)], [KernelProfile.Linux6_18], length: 20);
        var quirkDisables = 0;
        for (var k = 0; k < 300; k++)
        {
            var trace = generator.Generate(3, k);
            Assert.Equal(trace.Events, MwaitQuirkRule.Apply(trace.Vm, trace.Events));
            Assert.True(trace.Events.Count <= 22, $"trace {k} has {trace.Events.Count} events");
            Assert.True(trace.Events[^1] is VcpuEvent.Cpuid or VcpuEvent.GetCpuid2 or VcpuEvent.MonitorMwait or VcpuEvent.Rdmsr, $"trace {k} ends with {trace.Events[^1]}");
            quirkDisables += trace.Events.Count(e => e is VcpuEvent.DisableQuirks2(var m) && (m & (ulong)KvmQuirks.MiscEnableNoMwait) != 0);
        }
        Assert.True(quirkDisables > 0, "no trace disables the MWAIT quirk: the rule was never put to the test");
    }

    [Fact]
    public void SplitMix64_gives_the_reference_sequence_for_seed_0()
    {
        var (first, next) = new SplitMix64(0).Next();
        var (second, _) = next.Next();

        Assert.Equal(0xE220_A839_7B1D_CDAFul, first);
        Assert.Equal(0x6E78_9E6A_A1B9_65F4ul, second);
    }

    [Theory]
    [InlineData(new[] { "--shard", "2/2" }, "--shard: expected I/N")]
    [InlineData(new[] { "--traces", "many" }, "--traces: bad number 'many'")]
    [InlineData(new[] { "--seed", "-1" }, "--seed: bad number '-1'")]
    [InlineData(new[] { "--length", "0" }, "--length: must be at least 1")]
    [InlineData(new[] { "--kernel", "5.4" }, "--kernel: unknown kernel '5.4' (expected one of 6.15, 6.18)")]
    [InlineData(new[] { "--host", "pentium-4" }, "unknown host preset 'pentium-4'")]
    [InlineData(new[] { "--bug", "NoSuchBug" }, "--bug: unknown wrong variant 'NoSuchBug' (expected one of ForgetCr4Trigger,")]
    public void Random_bad_input_is_a_clear_error_with_exit_code_2(string[] options, string message)
    {
        var (exit, output, error) = Cpuidf(["random", .. options]);

        Assert.Equal(ExitCodes.BadInput, exit);
        Assert.Equal("", output);
        Assert.Contains(message, error, StringComparison.Ordinal);
    }
}
