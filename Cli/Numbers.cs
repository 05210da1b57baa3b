using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using System.Numerics;

namespace CpuidFunctional.Cli;

/// <summary>Command-line numbers: <c>0x</c> hexadecimal or decimal, parsed and range-checked by System.CommandLine.</summary>
public static class Numbers
{
    /// <summary>Parses a 64-bit number; null if malformed.</summary>
    public static ulong? Parse(string text) =>
        text.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
            ? text.Length > 2 && ulong.TryParse(text.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var h) ? h : null
            : ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var d) ? d : null;

    /// <summary>Hexadecimal with 0x.</summary>
    public static string Hex(ulong value) => "0x" + value.ToString("x", CultureInfo.InvariantCulture);

    /// <summary>
    /// A number option in <paramref name="min"/>..<paramref name="max"/> that is <paramref name="fallback"/> when absent;
    /// a malformed or out-of-range value is a parse error naming the option and why (exit 2).
    /// </summary>
    public static Option<T> Option<T>(string name, string description, T min, T max, T fallback, string? why = null)
        where T : struct, IBinaryInteger<T> =>
        new(name) { Description = description, HelpName = "N", DefaultValueFactory = _ => fallback, CustomParser = r => Within(r, name, min, max, why) ?? fallback };

    /// <summary>Like <see cref="Option{T}"/> but null when absent (for "no bound").</summary>
    public static Option<T?> Optional<T>(string name, string description, T min, T max, string? why = null)
        where T : struct, IBinaryInteger<T> =>
        new(name) { Description = description, HelpName = "N", CustomParser = r => Within(r, name, min, max, why) };

    /// <summary>The option's one token as a number within bounds; null with an error on the result otherwise.</summary>
    private static T? Within<T>(ArgumentResult result, string name, T min, T max, string? why)
        where T : struct, IBinaryInteger<T>
    {
        if (result.Tokens is not [var token])
        {
            return null;
        }
        var text = token.Value;
        if (Parse(text) is not { } value)
        {
            result.AddError($"{name}: bad number '{text}' (expected 0xHEX or decimal)");
            return null;
        }
        if (value < ulong.CreateSaturating(min))
        {
            result.AddError($"{name}: must be at least {min}{(why is null ? "" : $" ({why})")}, found {value}");
            return null;
        }
        if (value > ulong.CreateSaturating(max))
        {
            result.AddError($"{name}: at most {max}, found {value}");
            return null;
        }
        return T.CreateChecked(value);
    }
}
