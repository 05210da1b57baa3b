using CpuidFunctional.Core.Cpuid;
using CpuidFunctional.Core.Host.DumpInternal;

namespace CpuidFunctional.Core.Host;

/// <summary>
/// Reads an AIDA64 CPUID dump (the format of the InstLatx64 collection): lines
/// <c>CPUID LLLLLLLL: EAX-EBX-ECX-EDX [SL xx] [comment]</c>, all values hex, the sub-leaf in <c>[SL xx]</c>
/// (none means 0). Pure: text in, host or error out.
/// </summary>
/// <remarks>
/// <para>Ignored: blank lines, <c># ...</c> comments, <c>------[ ... ]------</c> section headers, cache summaries and
/// <c>Key : value</c> lines, including the <c>CPUID Manufacturer</c> / <c>CPUID CPU Name</c> / <c>CPUID Revision</c>
/// ones (a <c>CPUID</c> line whose key before the colon is words of letters, not a hex leaf). Every other line that
/// starts with <c>CPUID </c> must be a well-formed register line, or the parse fails naming that line.</para>
/// <para>Only the first logical CPU is read: a section header after the first register line ends the block.
/// A (leaf, sub-leaf) given twice in that block is an error.</para>
/// <para>Flags: the format has none, so an entry gets <see cref="CpuidFlags.SignificantIndex"/> exactly when its
/// leaf is architecturally indexed (<see cref="IndexedLeaves.IsIndexed"/>, KVM's <c>cpuid_function_is_indexed</c>),
/// whether or not the line carries <c>[SL xx]</c>. Sub-leaves of other leaves are kept in file order unflagged,
/// as KVM would store them.</para>
/// <para>The host's name is the <c>CPUID CPU Name</c> value, else the <c>CPU Alias</c> value, else the source.</para>
/// </remarks>
public static class Aida64Dump
{
    private const string CpuidWord = "CPUID";
    private static readonly string[] Registers = ["EAX", "EBX", "ECX", "EDX"];

    /// <summary>Parses an AIDA64 CPUID dump.</summary>
    /// <param name="text">The whole file.</param>
    /// <param name="source">A label for error messages (usually the file name); also the fallback host name.</param>
    public static Result<HostCpu> Parse(string text, string source)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return Fail(source, 0, "the text is empty: expected AIDA64 lines 'CPUID LLLLLLLL: EAX-EBX-ECX-EDX'");
        }
        if (TextLines.Check(text, source) is { } endings)
        {
            return new Result<HostCpu>.Error(endings);
        }

        var builder = new DumpTableBuilder();
        string? cpuName = null;
        string? alias = null;
        var lineNumber = 0;
        foreach (var rawLine in TextLines.Split(text))
        {
            lineNumber++;
            var line = rawLine.AsSpan().Trim();
            if (IsSectionHeader(line))
            {
                if (builder.Count > 0)
                {
                    break; // the next logical CPU (or another report section) begins
                }
                continue;
            }
            if (!IsCpuidLine(line))
            {
                if (KeyValue(line, out var key, out var value) && key.SequenceEqual("CPU Alias"))
                {
                    alias ??= value.ToString();
                }
                continue;
            }

            var rest = line[CpuidWord.Length..].TrimStart();
            if (KeyValue(rest, out var cpuidKey, out var cpuidValue) && IsWordKey(cpuidKey))
            {
                if (cpuidKey.SequenceEqual("CPU Name"))
                {
                    cpuName ??= cpuidValue.ToString();
                }
                continue;
            }

            var problem = ParseRegisterLine(rest, out var entry) ?? builder.Add(entry, lineNumber);
            if (problem is not null)
            {
                return Fail(source, lineNumber, problem);
            }
        }

        if (builder.Count == 0)
        {
            return Fail(source, 0, "no register lines: expected at least one 'CPUID LLLLLLLL: EAX-EBX-ECX-EDX' line");
        }
        if (builder.XsaveProblem() is { } xsave)
        {
            return Fail(source, xsave.Line, xsave.Message);
        }
        var name = !string.IsNullOrWhiteSpace(cpuName) ? cpuName : !string.IsNullOrWhiteSpace(alias) ? alias : source;
        return new Result<HostCpu>.Ok(HostCpu.FromCpuid(name, builder.Build()));
    }

    /// <summary>
    /// One register line after <c>CPUID </c>: <c>LLLLLLLL: EAX-EBX-ECX-EDX [SL xx] [comment]</c>. Returns what was
    /// wrong, or null.
    /// </summary>
    private static string? ParseRegisterLine(ReadOnlySpan<char> s, out CpuidEntry entry)
    {
        entry = default;
        var digits = DumpText.HexRun(s);
        if (digits != 8)
        {
            return $"leaf: expected 8 hex digits after 'CPUID ', found {DumpText.Found(s, ":")}";
        }
        var function = DumpText.Hex(s[..8]);
        s = s[8..];
        if (s.IsEmpty || s[0] != ':')
        {
            return $"expected ':' after leaf {function:X8}, found {DumpText.FoundChar(s)}";
        }
        s = s[1..];
        s = s[DumpText.Blanks(s)..];

        Span<uint> values = stackalloc uint[4];
        for (var r = 0; r < 4; r++)
        {
            if (r > 0)
            {
                if (s.IsEmpty || s[0] != '-')
                {
                    return $"expected '-' between {Registers[r - 1]} and {Registers[r]}, found {DumpText.FoundChar(s)}";
                }
                s = s[1..];
            }
            digits = DumpText.HexRun(s);
            if (digits != 8 || (s.Length > 8 && char.IsAsciiLetterOrDigit(s[8])))
            {
                return $"{Registers[r]}: expected 8 hex digits, found {DumpText.Found(s, "-")}";
            }
            values[r] = DumpText.Hex(s[..8]);
            s = s[8..];
        }

        if (!s.IsEmpty && s[0] != ' ' && s[0] != '\t')
        {
            return $"expected a space or end of line after EDX, found {DumpText.Found(s)}";
        }
        s = s[DumpText.Blanks(s)..];

        uint index = 0;
        if (s.StartsWith("[SL", StringComparison.Ordinal))
        {
            var problem = ParseSubleaf(s[3..], out index);
            if (problem is not null)
            {
                return problem;
            }
        }
        // Anything else is AIDA64's comment ([GenuineIntel], [L1D: 32 KB], ...).

        entry = new CpuidEntry(function, index, IndexedLeaves.FlagsFor(function), values[0], values[1], values[2], values[3]);
        return null;
    }

    /// <summary>The part of <c>[SL xx]</c> after <c>[SL</c>.</summary>
    private static string? ParseSubleaf(ReadOnlySpan<char> s, out uint index)
    {
        index = 0;
        if (s.IsEmpty || s[0] != ' ')
        {
            return $"[SL xx]: expected a space after '[SL', found {DumpText.FoundChar(s)}";
        }
        s = s[1..];
        var digits = DumpText.HexRun(s);
        var token = s.IndexOfAny(" \t]");
        if (digits is 0 or > 8 || digits != (token < 0 ? s.Length : token))
        {
            return $"[SL xx]: expected 1 to 8 hex digits for the sub-leaf, found {DumpText.Found(s, "]")}";
        }
        index = DumpText.Hex(s[..digits]);
        s = s[digits..];
        if (s.IsEmpty || s[0] != ']')
        {
            return $"[SL xx]: expected ']' after sub-leaf {index:X2}, found {DumpText.Found(s, "]")}";
        }
        return null;
    }

    /// <summary>The word <c>CPUID</c> alone or followed by a blank: a header key or a register line.</summary>
    private static bool IsCpuidLine(ReadOnlySpan<char> line) =>
        line.StartsWith(CpuidWord, StringComparison.Ordinal) && (line.Length == CpuidWord.Length || line[CpuidWord.Length] is ' ' or '\t');

    /// <summary><c>------[ CPUID Registers / Logical CPU #0 ]------</c> and the like.</summary>
    private static bool IsSectionHeader(ReadOnlySpan<char> line) =>
        line.StartsWith("------[", StringComparison.Ordinal) && line.EndsWith("]------", StringComparison.Ordinal);

    /// <summary>Splits <c>Key : value</c> at the first colon (both sides trimmed).</summary>
    private static bool KeyValue(ReadOnlySpan<char> line, out ReadOnlySpan<char> key, out ReadOnlySpan<char> value)
    {
        var colon = line.IndexOf(':');
        key = colon < 0 ? default : line[..colon].Trim();
        value = colon < 0 ? default : line[(colon + 1)..].Trim();
        return colon > 0;
    }

    /// <summary>
    /// A key made of letters and spaces with at least one letter that is not a hex digit ("CPU Name",
    /// "Manufacturer"), so never a leaf like <c>C0000000</c> or a mistyped one like <c>0000000G</c>.
    /// </summary>
    private static bool IsWordKey(ReadOnlySpan<char> key)
    {
        var wordLetter = false;
        foreach (var c in key)
        {
            if (!char.IsAsciiLetter(c) && c != ' ')
            {
                return false;
            }
            wordLetter |= char.IsAsciiLetter(c) && !char.IsAsciiHexDigit(c);
        }
        return wordLetter;
    }

    private static Result<HostCpu> Fail(string source, int line, string message) =>
        new Result<HostCpu>.Error(new ParseError(source, line, message));
}
