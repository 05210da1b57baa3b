using CpuidFunctional.Core.Host;

namespace CpuidFunctional.Core;

/// <summary>
/// How every text the shell hands to Core (dumps, scenarios) is cut into lines: at LF only, with a CR before it
/// dropped, so line numbers agree with <c>grep -n</c> and form feeds or Unicode separators inside a comment stay in the
/// comment. A CR that no LF follows is refused: such line endings would silently merge lines.
/// </summary>
public static class TextLines
{
    /// <summary>The lines of <paramref name="text"/> (LF or CRLF endings).</summary>
    public static string[] Split(string text) => [.. text.Split('\n').Select(l => l.EndsWith('\r') ? l[..^1] : l)];

    /// <summary>A problem with the line endings (a CR without an LF), naming its 1-based line; null if there is none.</summary>
    public static ParseError? Check(string text, string source)
    {
        for (var i = text.IndexOf('\r'); i >= 0; i = text.IndexOf('\r', i + 1))
        {
            if (i + 1 < text.Length && text[i + 1] != '\n')
            {
                var line = text.AsSpan(0, i).Count('\n') + 1;
                return new ParseError(source, line, "a carriage return without a line feed: lines must end in LF or CRLF");
            }
        }
        return null;
    }
}
