namespace CpuidFunctional.Cli;

/// <summary>The exit codes of <c>cpuidf</c> (docs/cli.md).</summary>
public static class ExitCodes
{
    /// <summary>Everything passed (or the command only printed information).</summary>
    public const int Ok = 0;

    /// <summary>A check found a violation, a scenario failed, or the policies disagreed.</summary>
    public const int Failed = 1;

    /// <summary>Bad input: unknown preset, unreadable or malformed file, bad number, bad usage.</summary>
    public const int BadInput = 2;

    /// <summary>An internal error: an exception escaped a command (a bug in cpuidf; EX_SOFTWARE in sysexits.h).</summary>
    public const int InternalError = 70;
}
