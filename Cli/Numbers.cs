using System.Globalization;

namespace CpuidFunctional.Cli;

/// <summary>Command-line numbers: <c>0x</c> hexadecimal or decimal.</summary>
public static class Numbers
{
    /// <summary>Parses a 64-bit number; null if malformed.</summary>
    public static ulong? Parse(string text) =>
        text.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
            ? text.Length > 2 && ulong.TryParse(text.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var h) ? h : null
            : ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var d) ? d : null;

    /// <summary>Hexadecimal with 0x.</summary>
    public static string Hex(ulong value) => "0x" + value.ToString("x", CultureInfo.InvariantCulture);
}
