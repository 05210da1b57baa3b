namespace CpuidFunctional.Interpreter.Execution;

/// <summary>
/// The runs of one program under several policies and whether they behave the same. Equal by value: the runs are a
/// <see cref="ValueArray{T}"/>, compared element by element.
/// </summary>
/// <param name="Runs">One result per policy, in the order given.</param>
/// <param name="FirstDifference">The first difference between the first run and a later one, naming both policies; null if all agree.</param>
public sealed record PolicyAgreement(ValueArray<(Policy Policy, RunResult Result)> Runs, string? FirstDifference)
{
    /// <summary>All runs have equal traces, observations, outputs, stop reasons and step counts.</summary>
    public bool Agree => FirstDifference is null;

    /// <summary>The policies and the outcome: how the first run stopped if they agree, the first difference if not.</summary>
    public override string ToString()
    {
        var policies = string.Join(", ", Runs.Select(r => r.Policy));
        return (FirstDifference, Runs.Count) switch
        {
            (null, 0) => "no runs",
            (null, _) => $"{policies} agree: {Runs[0].Result.Stop} after {Runs[0].Result.Steps} steps",
            _ => $"{policies} disagree: {FirstDifference}",
        };
    }
}
