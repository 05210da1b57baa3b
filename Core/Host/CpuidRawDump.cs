using CpuidFunctional.Core.Cpuid;
using CpuidFunctional.Core.Host.DumpInternal;

namespace CpuidFunctional.Core.Host;

/// <summary>
/// Reads the raw output of Linux <c>cpuid -r</c> (Debian package <c>cpuid</c>): <c>CPU n:</c> headers (<c>CPU:</c>
/// with <c>-1</c>) followed by lines <c>0xLLLLLLLL 0xSS: eax=0x... ebx=0x... ecx=0x... edx=0x...</c>. Also reads the
/// variant with a trailing <c>flags=0xN</c> per line and <c>#</c> comment lines, as written by this project's KVM
/// probe for <c>KVM_GET_SUPPORTED_CPUID</c>. Pure: text in, host or error out.
/// </summary>
/// <remarks>
/// <para>Only the first CPU is read: a second <c>CPU n:</c> header ends the block. Blank lines and <c>#</c> comments
/// are ignored; any other line must be a well-formed leaf line, or the parse fails naming that line. A (leaf,
/// sub-leaf) given twice in the block is an error.</para>
/// <para>Flags: a line's <c>flags=</c> value is used as given (only 0 and 1, KVM_CPUID_FLAG_SIGNIFCANT_INDEX, are
/// meaningful for <c>KVM_SET_CPUID2</c>); a line without it gets <see cref="CpuidFlags.SignificantIndex"/> exactly
/// when its leaf is architecturally indexed (<see cref="IndexedLeaves.IsIndexed"/>), as
/// <see cref="Aida64Dump"/> does. The host's name is the source.</para>
/// </remarks>
public static class CpuidRawDump
{
    private const string Expected = "a leaf line '0xLLLLLLLL 0xSS: eax=0x... ebx=0x... ecx=0x... edx=0x...', a 'CPU n:' header or a '#' comment";
    private static readonly string[] Registers = ["eax", "ebx", "ecx", "edx"];

    /// <summary>Parses <c>cpuid -r</c> output.</summary>
    /// <param name="text">The whole file.</param>
    /// <param name="source">A label for error messages (usually the file name); also the host name.</param>
    public static Result<HostCpu> Parse(string text, string source)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return Fail(source, 0, "the text is empty: expected 'cpuid -r' lines '0xLLLLLLLL 0xSS: eax=0x... ebx=0x... ecx=0x... edx=0x...'");
        }
        if (TextLines.Check(text, source) is { } endings)
        {
            return new Result<HostCpu>.Error(endings);
        }

        var builder = new DumpTableBuilder();
        var cpuHeaders = 0;
        var lineNumber = 0;
        foreach (var rawLine in TextLines.Split(text))
        {
            lineNumber++;
            var line = rawLine.AsSpan().Trim();
            if (line.IsEmpty || line[0] == '#')
            {
                continue;
            }
            if (IsCpuHeader(line))
            {
                if (++cpuHeaders > 1)
                {
                    break; // CPU 1 and later
                }
                continue;
            }
            if (!line.StartsWith("0x", StringComparison.Ordinal))
            {
                return Fail(source, lineNumber, $"expected {Expected}, found {DumpText.Found(line)}");
            }

            var problem = ParseLeafLine(line, out var entry) ?? builder.Add(entry, lineNumber);
            if (problem is not null)
            {
                return Fail(source, lineNumber, problem);
            }
        }

        if (builder.Count == 0)
        {
            return Fail(source, 0, "no leaf lines: expected at least one '0xLLLLLLLL 0xSS: eax=0x... ebx=0x... ecx=0x... edx=0x...' line");
        }
        if (builder.XsaveProblem() is { } xsave)
        {
            return Fail(source, xsave.Line, xsave.Message);
        }
        return new Result<HostCpu>.Ok(HostCpu.FromCpuid(source, builder.Build()));
    }

    /// <summary><c>0xLLLLLLLL 0xSS: eax=0x... ebx=0x... ecx=0x... edx=0x... [flags=0xN]</c>; returns what was wrong, or null.</summary>
    private static string? ParseLeafLine(ReadOnlySpan<char> s, out CpuidEntry entry)
    {
        entry = default;
        s = s[2..]; // the caller checked "0x"
        var digits = DumpText.HexRun(s);
        if (digits != 8 || (s.Length > 8 && char.IsAsciiLetterOrDigit(s[8])))
        {
            return $"leaf: expected 8 hex digits after '0x', found {DumpText.Found(s)}";
        }
        var function = DumpText.Hex(s[..8]);
        s = s[8..];

        var blanks = DumpText.Blanks(s);
        s = s[blanks..];
        if (blanks == 0 || !s.StartsWith("0x", StringComparison.Ordinal))
        {
            var found = blanks == 0 ? DumpText.FoundChar(s) : DumpText.Found(s);
            return $"sub-leaf: expected ' 0xSS' after leaf 0x{function:x8}, found {found}";
        }
        s = s[2..];
        digits = DumpText.HexRun(s);
        if (digits is 0 or > 8 || (s.Length > digits && char.IsAsciiLetterOrDigit(s[digits])))
        {
            return $"sub-leaf: expected 1 to 8 hex digits after '0x', found {DumpText.Found(s, ":")}";
        }
        var index = DumpText.Hex(s[..digits]);
        s = s[digits..];
        if (s.IsEmpty || s[0] != ':')
        {
            return $"expected ':' after sub-leaf 0x{index:x2}, found {DumpText.FoundChar(s)}";
        }
        s = s[1..];

        Span<uint> values = stackalloc uint[4];
        for (var r = 0; r < 4; r++)
        {
            var problem = Field(ref s, Registers[r], exactDigits: true, out values[r]);
            if (problem is not null)
            {
                return problem;
            }
        }

        var flags = IndexedLeaves.FlagsFor(function);
        if (DumpText.Blanks(s) < s.Length)
        {
            var problem = Field(ref s, "flags", exactDigits: false, out var rawFlags);
            if (problem is not null)
            {
                return problem;
            }
            if (rawFlags > (uint)CpuidFlags.SignificantIndex)
            {
                return $"flags: expected 0x0 or 0x1 (KVM_CPUID_FLAG_SIGNIFCANT_INDEX), found 0x{rawFlags:x}";
            }
            flags = (CpuidFlags)rawFlags;
            if (DumpText.Blanks(s) < s.Length)
            {
                return $"expected end of line after flags, found {DumpText.Found(s[DumpText.Blanks(s)..])}";
            }
        }

        entry = new CpuidEntry(function, index, flags, values[0], values[1], values[2], values[3]);
        return null;
    }

    /// <summary>One <c> name=0xHHHHHHHH</c> field (blanks first); advances past it.</summary>
    private static string? Field(ref ReadOnlySpan<char> s, string name, bool exactDigits, out uint value)
    {
        value = 0;
        var blanks = DumpText.Blanks(s);
        var rest = s[blanks..];
        var prefix = name + "=0x";
        if (blanks == 0 || !rest.StartsWith(prefix, StringComparison.Ordinal))
        {
            var what = exactDigits ? $"' {prefix}' and 8 hex digits" : $"' {prefix}' and hex digits";
            return $"{name}: expected {what}, found {(blanks == 0 && !rest.IsEmpty ? DumpText.FoundChar(rest) : DumpText.Found(rest))}";
        }
        rest = rest[prefix.Length..];
        var digits = DumpText.HexRun(rest);
        var bad = exactDigits ? digits != 8 : digits is 0 or > 8;
        if (bad || (rest.Length > digits && rest[digits] != ' ' && rest[digits] != '\t'))
        {
            var what = exactDigits ? "8 hex digits" : "1 to 8 hex digits";
            return $"{name}: expected {what} after '{prefix}', found {DumpText.Found(rest)}";
        }
        value = DumpText.Hex(rest[..digits]);
        s = rest[digits..];
        return null;
    }

    /// <summary><c>CPU 0:</c>, or <c>CPU:</c> as <c>cpuid -r -1</c> prints it.</summary>
    private static bool IsCpuHeader(ReadOnlySpan<char> line)
    {
        if (!line.StartsWith("CPU", StringComparison.Ordinal) || !line.EndsWith(":", StringComparison.Ordinal))
        {
            return false;
        }
        var middle = line[3..^1].Trim();
        foreach (var c in middle)
        {
            if (!char.IsAsciiDigit(c))
            {
                return false;
            }
        }
        return true;
    }

    private static Result<HostCpu> Fail(string source, int line, string message) =>
        new Result<HostCpu>.Error(new ParseError(source, line, message));
}
