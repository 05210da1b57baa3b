namespace CpuidFunctional.Core.Scenarios;

/// <summary>Why a scenario failed: where (file and 1-based line) and what differed.</summary>
/// <param name="Source">The scenario file.</param>
/// <param name="Line">The line of the failing step or expectation.</param>
/// <param name="Message">The differing values.</param>
public sealed record ScenarioFailure(string Source, int Line, string Message)
{
    /// <inheritdoc/>
    public override string ToString() => $"{Source}:{Line}: {Message}";
}
