using CpuidFunctional.Core;
using CpuidFunctional.Core.Host;

namespace CpuidFunctional.Cli;

/// <summary>The shell side of host selection: a preset name, or a dump file read from disk (AIDA64 or <c>cpuid -r</c>).</summary>
public static class HostResolver
{
    /// <summary>A preset by name, else an existing file parsed as a dump; errors name the preset list or the file and line.</summary>
    /// <param name="presetOrPath">A preset name (<c>skylake-sp</c>) or a path.</param>
    /// <param name="baseDirectory">The folder relative paths start from (a scenario's folder), or null for the working directory.</param>
    public static Result<HostCpu> Resolve(string presetOrPath, string? baseDirectory = null)
    {
        if (HostPresets.ByName(presetOrPath) is Result<HostCpu>.Ok preset)
        {
            return preset;
        }
        var looksLikePath = presetOrPath.Contains('/', StringComparison.Ordinal)
            || presetOrPath.Contains('\\', StringComparison.Ordinal)
            || presetOrPath.Contains('.', StringComparison.Ordinal);
        if (!looksLikePath)
        {
            return HostPresets.ByName(presetOrPath);
        }
        return ReadDump(baseDirectory is null ? presetOrPath : Path.Combine(baseDirectory, presetOrPath));
    }

    /// <summary>Reads and parses a dump file: AIDA64 text if it has <c>CPUID xxxxxxxx:</c> lines, else <c>cpuid -r</c> text.</summary>
    public static Result<HostCpu> ReadDump(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            return new Result<HostCpu>.Error(new ParseError(path, 0, $"cannot read the file: {e.Message}"));
        }
        var aida = text.Contains("CPUID 0", StringComparison.Ordinal);
        return aida ? Aida64Dump.Parse(text, path) : CpuidRawDump.Parse(text, path);
    }
}
