using CpuidFunctional.Properties.Live;

namespace CpuidFunctional.Properties.Tcg;

/// <summary>
/// The second real kernel: Debian's Linux 6.1 with the upstream kvm_amd (nested=1) booted under QEMU TCG, which
/// needs no /dev/kvm on this machine. Inside it, this very assembly runs its live namespace (scenarios, fence
/// probes, the random differential) against the guest's /dev/kvm, with the model on the 6.1 profile. Skips are
/// failures in there: the guest always has KVM.
/// </summary>
public class TcgKernelTests
{
    /// <summary>Fewer would mean a test class was lost from the live namespace.</summary>
    private const int MinimumLiveTests = 80;

    [Fact]
    public void The_live_suite_passes_against_Linux_6_1_kvm_amd_booted_under_QEMU_TCG()
    {
        var harness = TcgHarness.LocateOrSkip();
        var environment = new Dictionary<string, string>(StringComparer.Ordinal);
        if (Environment.GetEnvironmentVariable("CPUIDF_LIVE_TRACES") is { Length: > 0 } traces)
        {
            environment["CPUIDF_LIVE_TRACES"] = traces; // the long run
        }
        var expected = environment.TryGetValue("CPUIDF_LIVE_TRACES", out var t)
            ? int.Parse(t, System.Globalization.CultureInfo.InvariantCulture)
            : LiveDifferentialTests.DefaultTracesUnderTcg;
        LivePrograms.WriteImages(Path.Combine(AppContext.BaseDirectory, LivePrograms.TcgImageFolder)); // no nasm in there
        var run = TcgGuestRun.Boot(
            harness,
            ["-namespace", "CpuidFunctional.Properties.Live", "-parallelMode", "none", "-failSkips", "-noColor", "-noLogo", "-showLiveOutput"],
            environment,
            timeoutSeconds: 600 + (expected / 5) // about 16 traces/s measured; five times slower still finishes
        );
        var output = TestContext.Current.TestOutputHelper;
        output?.WriteLine($"guest {run.GuestKernel} ({harness.KernelRelease}), {run.Seconds:F0} s boot to power-off, exit {run.ExitCode}");
        output?.WriteLine(run.Differential);

        Assert.True(run.GuestKernel.StartsWith("6.1.", StringComparison.Ordinal), "the guest did not boot Linux 6.1:\n" + run.Tail());
        var summary = run.Summary;
        Assert.True(summary is not null, "the live suite did not finish inside the guest:\n" + run.Tail());
        var (total, errors, failed, skipped) = summary.Value;
        Assert.True(errors == 0 && failed == 0 && skipped == 0, $"inside the guest: {failed} failed, {errors} errors, {skipped} skipped:\n{run.Tail(400)}");
        Assert.True(total >= MinimumLiveTests, $"only {total} live tests ran inside the guest:\n" + run.Tail());
        Assert.True(run.DifferentialTraces >= expected, $"the differential compared {run.DifferentialTraces} traces, expected {expected}:\n" + run.Tail());
        Assert.True(run.ExitCode == 0, $"the guest program exited {run.ExitCode}:\n" + run.Tail());
    }
}
