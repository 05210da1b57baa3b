using System.Text.RegularExpressions;
using CpuidFunctional.Core;
using CpuidFunctional.Core.Host;

namespace CpuidFunctional.Bench.Console;

/// <summary>
/// The <c>--host</c> value: a preset name (<see cref="HostPresets.Names"/>) or the path of a CPUID dump, either an
/// AIDA64 dump or <c>cpuid -r</c> output (told apart by their leaf lines). A malformed file is an error naming file and line.
/// </summary>
internal static partial class HostArgument
{
    [GeneratedRegex(@"^\s*0x[0-9a-fA-F]+\s+0x[0-9a-fA-F]+\s*:", RegexOptions.Multiline)]
    private static partial Regex RawCpuidLine();

    /// <summary>The host, or an error saying what is wrong and where.</summary>
    public static Result<HostCpu> Resolve(string value)
    {
        if (HostPresets.ByName(value) is Result<HostCpu>.Ok preset)
        {
            return preset;
        }
        if (!File.Exists(value))
        {
            return new Result<HostCpu>.Error(
                new ParseError(
                    "--host",
                    0,
                    $"'{value}' is neither a host preset ({string.Join(", ", HostPresets.Names)}) nor an existing dump file"
                )
            );
        }
        string text;
        try
        {
            text = File.ReadAllText(value);
        }
        catch (IOException e)
        {
            return new Result<HostCpu>.Error(new ParseError(value, 0, $"cannot read: {e.Message}"));
        }
        catch (UnauthorizedAccessException e)
        {
            return new Result<HostCpu>.Error(new ParseError(value, 0, $"cannot read: {e.Message}"));
        }
        return RawCpuidLine().IsMatch(text) ? CpuidRawDump.Parse(text, value) : Aida64Dump.Parse(text, value);
    }
}
