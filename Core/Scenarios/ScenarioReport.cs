namespace CpuidFunctional.Core.Scenarios;

/// <summary>The outcome of one scenario: how many steps ran and, if it failed, the first failure.</summary>
/// <param name="Source">The scenario file.</param>
/// <param name="Steps">Events applied (under every policy).</param>
/// <param name="Expectations">Expectations checked.</param>
/// <param name="Failure">The first failure, or null if the scenario passed.</param>
public sealed record ScenarioReport(string Source, int Steps, int Expectations, ScenarioFailure? Failure)
{
    /// <summary>Whether every policy agreed on every step and every expectation held.</summary>
    public bool Passed => Failure is null;

    /// <inheritdoc/>
    public override string ToString() =>
        Passed ? $"{Source}: passed ({Steps} steps, {Expectations} expectations)" : $"FAILED {Failure}";
}
