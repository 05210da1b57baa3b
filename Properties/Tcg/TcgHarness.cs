using System.Diagnostics;
using CpuidFunctional.Properties.Scenarios;

namespace CpuidFunctional.Properties.Tcg;

/// <summary>
/// Oracle/Tcg/tcg-guest.sh, found from this assembly's folder, once <c>tcg-guest.sh prepare</c> has installed QEMU
/// and unpacked the 6.1 kernel (<c>.ci/run</c> does). Tests that need it are skipped, with the reason, elsewhere.
/// </summary>
/// <param name="Script">The script's absolute path.</param>
/// <param name="KernelRelease">The guest kernel it boots, as <c>tcg-guest.sh status</c> reports it.</param>
internal sealed record TcgHarness(string Script, string KernelRelease)
{
    /// <summary>The harness, or a skip saying what is missing.</summary>
    public static TcgHarness LocateOrSkip()
    {
        if (RepositoryFiles.Root is not { } root)
        {
            Assert.Skip($"the TCG harness needs the repository: no CpuidFunctional.sln above {AppContext.BaseDirectory}");
            throw new InvalidOperationException("unreachable: Assert.Skip throws");
        }
        var script = Path.Combine(root, "Oracle", "Tcg", "tcg-guest.sh");
        var (code, output) = Bash(script, "status");
        if (code != 0)
        {
            Assert.Skip($"QEMU TCG guest not prepared ({output.Trim()}); run `bash Oracle/Tcg/tcg-guest.sh prepare` (.ci/run does)");
        }
        return new TcgHarness(script, output.Trim());
    }

    private static (int Code, string Output) Bash(string script, string verb)
    {
        var start = new ProcessStartInfo("bash", [script, verb])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        using var process = Process.Start(start) ?? throw new InvalidOperationException("could not start bash");
        var stdout = process.StandardOutput.ReadToEnd();
        var stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, stdout + stderr);
    }
}
