using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace CpuidFunctional.Properties.Tcg;

/// <summary>
/// One boot of the QEMU TCG guest (Oracle/Tcg/tcg-guest.sh): Linux 6.1 with the real kvm_amd, running this test
/// assembly's live namespace against its own /dev/kvm. What the serial console printed, and the parts of it the
/// host checks: the guest kernel, xunit's summary, and the differential's one-line report.
/// </summary>
/// <param name="ExitCode">The script's exit code: the guest program's, 124 on timeout, 3 if the guest never finished.</param>
/// <param name="Log">Everything the serial console printed.</param>
/// <param name="Seconds">Wall time of the boot, from QEMU's start to power-off.</param>
internal sealed partial record TcgGuestRun(int ExitCode, string Log, double Seconds)
{
    /// <summary>The guest's <c>uname -r</c>, from the BEGIN marker its /init prints; "" if absent.</summary>
    public string GuestKernel => BeginLine().Match(Log) is { Success: true } m ? m.Groups[1].Value : "";

    /// <summary>xunit's summary line: total, errors, failed, skipped; null if the run never got that far.</summary>
    public (int Total, int Errors, int Failed, int Skipped)? Summary =>
        SummaryLine().Match(Log) is { Success: true } m ? (Int(m, 1), Int(m, 2), Int(m, 3), Int(m, 4)) : null;

    /// <summary>The differential's report line ("live differential: N traces, M observations, ..."), or "".</summary>
    public string Differential => DifferentialLine().Match(Log) is { Success: true } m ? m.Value.Trim() : "";

    /// <summary>Traces the differential compared inside the guest (0 if it did not report).</summary>
    public int DifferentialTraces => DifferentialLine().Match(Log) is { Success: true } m ? Int(m, 1) : 0;

    /// <summary>The last <paramref name="lines"/> lines of the log, for failure messages.</summary>
    public string Tail(int lines = 150)
    {
        var all = Log.Split('\n');
        return string.Join('\n', all.Skip(Math.Max(0, all.Length - lines)));
    }

    /// <summary>
    /// Runs <c>tcg-guest.sh run</c> with this assembly's folder as the guest program and <paramref name="arguments"/>
    /// for it; the environment variables in <paramref name="environment"/> are passed into the guest, and QEMU is
    /// stopped after <paramref name="timeoutSeconds"/>.
    /// </summary>
    public static TcgGuestRun Boot(TcgHarness harness, IReadOnlyList<string> arguments, IReadOnlyDictionary<string, string> environment, int timeoutSeconds)
    {
        var start = new ProcessStartInfo("bash")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(harness.Script);
        start.ArgumentList.Add("run");
        start.ArgumentList.Add(AppContext.BaseDirectory);
        start.ArgumentList.Add("CpuidFunctional.Properties.dll");
        foreach (var a in arguments)
        {
            start.ArgumentList.Add(a);
        }
        start.Environment["CPUIDF_TCG_ENV"] = string.Join(' ', environment.Select(kv => $"{kv.Key}={kv.Value}"));
        start.Environment["CPUIDF_TCG_TIMEOUT"] = timeoutSeconds.ToString(CultureInfo.InvariantCulture);
        var clock = Stopwatch.StartNew();
        using var process = Process.Start(start) ?? throw new InvalidOperationException("could not start bash");
        var stderr = process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        var stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        var log = stdout + (stderr.Result.Length == 0 ? "" : "\n[stderr]\n" + stderr.Result);
        return new TcgGuestRun(process.ExitCode, log, clock.Elapsed.TotalSeconds);
    }

    private static int Int(Match m, int group) => int.Parse(m.Groups[group].Value, NumberStyles.None, CultureInfo.InvariantCulture);

    [GeneratedRegex(@"CPUIDF-GUEST-BEGIN (\S+)")]
    private static partial Regex BeginLine();

    [GeneratedRegex(@"Total: (\d+), Errors: (\d+), Failed: (\d+), Skipped: (\d+)")]
    private static partial Regex SummaryLine();

    [GeneratedRegex(@"live differential: (\d+) traces[^\r\n]*")]
    private static partial Regex DifferentialLine();
}
