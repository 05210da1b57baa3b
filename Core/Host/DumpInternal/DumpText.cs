using System.Globalization;

namespace CpuidFunctional.Core.Host.DumpInternal;

/// <summary>Small scanning helpers shared by the dump parsers: hex fields and readable "found ..." descriptions.</summary>
internal static class DumpText
{
    /// <summary>How many hex digits the span starts with.</summary>
    public static int HexRun(ReadOnlySpan<char> s)
    {
        var n = 0;
        while (n < s.Length && char.IsAsciiHexDigit(s[n]))
        {
            n++;
        }
        return n;
    }

    /// <summary>Parses 1 to 8 hex digits (the caller has checked they are hex).</summary>
    public static uint Hex(ReadOnlySpan<char> digits) => uint.Parse(digits, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture);

    /// <summary>Number of leading spaces and tabs.</summary>
    public static int Blanks(ReadOnlySpan<char> s)
    {
        var n = 0;
        while (n < s.Length && (s[n] == ' ' || s[n] == '\t'))
        {
            n++;
        }
        return n;
    }

    /// <summary>
    /// The token at the start of <paramref name="s"/> (up to a blank or one of <paramref name="stops"/>) for an
    /// error message: quoted, "end of line", or the single character that stopped it.
    /// </summary>
    public static string Found(ReadOnlySpan<char> s, string stops = "")
    {
        if (s.IsEmpty)
        {
            return "end of line";
        }
        var n = 0;
        while (n < s.Length && s[n] != ' ' && s[n] != '\t' && !stops.Contains(s[n], StringComparison.Ordinal))
        {
            n++;
        }
        if (n == 0)
        {
            return FoundChar(s);
        }
        const int Max = 24;
        return n > Max ? $"'{s[..Max]}...'" : $"'{s[..n]}'";
    }

    /// <summary>The first character of <paramref name="s"/> for an error message.</summary>
    public static string FoundChar(ReadOnlySpan<char> s) =>
        s.IsEmpty ? "end of line"
        : s[0] == ' ' ? "a space"
        : s[0] == '\t' ? "a tab"
        : $"'{s[0]}'";
}
