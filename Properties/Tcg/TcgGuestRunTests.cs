namespace CpuidFunctional.Properties.Tcg;

/// <summary>How the host reads a TCG guest's serial log. Runs everywhere, QEMU or not.</summary>
public class TcgGuestRunTests
{
    private const string Finished = """
        SeaBIOS (version 1.16.2-debian-1.16.2-1)
        Booting from ROM..
        CPUIDF-GUEST-BEGIN 6.1.0-57-amd64
            CpuidFunctional.Properties.Live.LiveDifferentialTests.Model_and_live_kernel_agree_at_every_observation_of_random_traces [OUTPUT] live differential: 2000 traces, 23060 observations, 0 differences on 6.1.0-57-amd64 (kvm_amd, profile Linux6_1); 16 traces/s
        live differential: 2000 traces, 23060 observations, 0 differences on 6.1.0-57-amd64 (kvm_amd, profile Linux6_1); 16 traces/s
        === TEST EXECUTION SUMMARY ===
           CpuidFunctional.Properties  Total: 69, Errors: 0, Failed: 0, Skipped: 0, Not Run: 0, Time: 141.2s
        CPUIDF-GUEST-END 0
        [  150.1] reboot: Power down
        """;

    [Fact]
    public void A_finished_run_yields_the_guest_kernel_the_xunit_summary_and_the_differential_line()
    {
        var run = new TcgGuestRun(0, Finished, 156);
        Assert.Equal("6.1.0-57-amd64", run.GuestKernel);
        Assert.Equal((69, 0, 0, 0), run.Summary);
        Assert.Equal(2000, run.DifferentialTraces);
        Assert.StartsWith("live differential: 2000 traces, 23060 observations", run.Differential, StringComparison.Ordinal);
    }

    [Fact]
    public void A_run_that_died_before_the_summary_has_none_and_its_tail_shows_why()
    {
        var log = "CPUIDF-GUEST-BEGIN 6.1.0-57-amd64\nqemu: fatal: invalid tss type\nEAX=00000001";
        var run = new TcgGuestRun(3, log, 20);
        Assert.Null(run.Summary);
        Assert.Equal(0, run.DifferentialTraces);
        Assert.Contains("invalid tss type", run.Tail(2), StringComparison.Ordinal);
        Assert.DoesNotContain("BEGIN", run.Tail(2), StringComparison.Ordinal);
    }

    [Fact]
    public void A_guest_whose_modules_did_not_load_names_no_kernel()
    {
        var run = new TcgGuestRun(3, "CPUIDF-GUEST-ERROR insmod kvm-amd.ko nested=xyz: Invalid argument\n", 9);
        Assert.Equal("", run.GuestKernel);
        Assert.Null(run.Summary);
    }
}
