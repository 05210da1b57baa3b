namespace CpuidFunctional.Core.Host;

/// <summary>Why a text could not be read: where (source and 1-based line) and what was wrong.</summary>
/// <param name="Source">The file name or other label the caller gave the text.</param>
/// <param name="Line">1-based line number; 0 when the problem is the text as a whole.</param>
/// <param name="Message">What was expected and what was found.</param>
public sealed record ParseError(string Source, int Line, string Message)
{
    /// <inheritdoc/>
    public override string ToString() => Line > 0 ? $"{Source}:{Line}: {Message}" : $"{Source}: {Message}";
}
