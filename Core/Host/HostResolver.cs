namespace CpuidFunctional.Core.Host;

/// <summary>
/// What a <c>--host</c> value names: a preset (<see cref="HostPresets.Names"/>, any case), else a CPUID dump file,
/// AIDA64 or <c>cpuid -r</c>. Core reads no files: the caller passes the function that reads one (the shells pass
/// <c>File.ReadAllText</c>), and this class decides everything else once: the order, the format, the messages.
/// </summary>
public static class HostResolver
{
    private const string Aida64LinePrefix = "CPUID ";

    /// <summary>
    /// The preset named <paramref name="presetOrPath"/>, else the dump at that path, read once and parsed. A value
    /// that cannot be read is an unknown preset (the error lists the presets) unless it looks like a path (it has a
    /// <c>/</c>, <c>\</c> or <c>.</c>), in which case the error names the file and why it cannot be read.
    /// </summary>
    /// <param name="presetOrPath">A preset name (<c>skylake-sp</c>) or a path.</param>
    /// <param name="readText">Reads a whole file; whatever it throws becomes a "cannot read the file" error with the exception's message.</param>
    public static Result<HostCpu> Resolve(string presetOrPath, Func<string, string> readText)
    {
        var preset = HostPresets.ByName(presetOrPath);
        if (preset is Result<HostCpu>.Ok)
        {
            return preset;
        }
        return ReadText(presetOrPath, readText) switch
        {
            Result<string>.Ok(var text) => ParseDump(text, presetOrPath),
            Result<string>.Error when !LooksLikePath(presetOrPath) => preset,
            Result<string>.Error(var problem) => new Result<HostCpu>.Error(problem),
            _ => throw new System.Diagnostics.UnreachableException(),
        };
    }

    /// <summary>Reads the dump at <paramref name="path"/> once and parses it; an unreadable file is an error naming it.</summary>
    /// <param name="path">The file; also the source named in errors and the fallback host name.</param>
    /// <param name="readText">Reads a whole file; whatever it throws becomes a "cannot read the file" error with the exception's message.</param>
    public static Result<HostCpu> ReadDump(string path, Func<string, string> readText) =>
        ReadText(path, readText) switch
        {
            Result<string>.Ok(var text) => ParseDump(text, path),
            Result<string>.Error(var problem) => new Result<HostCpu>.Error(problem),
            _ => throw new System.Diagnostics.UnreachableException(),
        };

    /// <summary>
    /// Parses a dump in either format. The one rule that tells them apart: an AIDA64 dump has lines starting with
    /// <c>CPUID </c> (its register lines); a text without any is read as <c>cpuid -r</c> output.
    /// </summary>
    /// <param name="text">The whole file.</param>
    /// <param name="source">A label for error messages (usually the path); also the fallback host name.</param>
    public static Result<HostCpu> ParseDump(string text, string source) =>
        IsAida64(text) ? Aida64Dump.Parse(text, source) : CpuidRawDump.Parse(text, source);

    private static bool IsAida64(string text)
    {
        foreach (var line in TextLines.Split(text))
        {
            if (line.TrimStart().StartsWith(Aida64LinePrefix, StringComparison.Ordinal))
            {
                return true;
            }
        }
        return false;
    }

    private static bool LooksLikePath(string value) => value.AsSpan().IndexOfAny('/', '\\', '.') >= 0;

    private static Result<string> ReadText(string path, Func<string, string> readText)
    {
        try
        {
            return new Result<string>.Ok(readText(path));
        }
        catch (Exception e) // whatever the shell's reader throws (not found, no permission, a bad path) means: unreadable
        {
            return new Result<string>.Error(new ParseError(path, 0, $"cannot read the file: {e.Message}"));
        }
    }
}
