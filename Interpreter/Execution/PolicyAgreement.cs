using CpuidFunctional.Core.Model;

namespace CpuidFunctional.Interpreter.Execution;

/// <summary>The runs of one program under several policies and whether they behave the same.</summary>
/// <param name="Runs">One result per policy, in the order given.</param>
/// <param name="FirstDifference">The first difference between the first run and a later one, naming both policies; null if all agree.</param>
public sealed record PolicyAgreement(IReadOnlyList<(Policy Policy, RunResult Result)> Runs, string? FirstDifference)
{
    /// <summary>All runs have equal traces, observations, outputs, stop reasons and step counts.</summary>
    public bool Agree => FirstDifference is null;
}
