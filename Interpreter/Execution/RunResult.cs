namespace CpuidFunctional.Interpreter.Execution;

// Inside the namespace, so that Machine is the type and not the sibling namespace CpuidFunctional.Interpreter.Machine.
using CpuidFunctional.Interpreter.Machine;

/// <summary>
/// What the host sees of a run: the Core event trace, the observation stream, the OUT-reported values and why the
/// run stopped; plus the final machine, the number of instructions executed and Core's effort (which differs between
/// policies by design and is therefore not part of <see cref="SameBehaviour"/>).
/// </summary>
/// <param name="Trace">Every event applied with <see cref="Kvm.Step"/>, in order.</param>
/// <param name="Observations">Everything made visible, in order.</param>
/// <param name="Outputs">OUT-reported values, in order.</param>
/// <param name="Stop">Why the run ended.</param>
/// <param name="Steps">Instructions executed.</param>
/// <param name="Effort">Runtime CPUID updates and XSAVE-size computations Core performed.</param>
/// <param name="Final">The machine after the last instruction.</param>
public sealed record RunResult(
    DictionaryArray<VcpuEvent> Trace,
    DictionaryArray<RunObservation> Observations,
    ValueArray<PortOutput> Outputs,
    StopReason Stop,
    long Steps,
    Effort Effort,
    Machine Final
)
{
    /// <summary>Equal trace, observations, outputs, stop reason and step count (the policy-independent part).</summary>
    public bool SameBehaviour(RunResult other) => FirstDifference(other) is null;

    /// <summary>A readable description of the first behavioural difference, or null if there is none.</summary>
    public string? FirstDifference(RunResult other)
    {
        if (Difference("observation", Observations, other.Observations) is { } o)
        {
            return o;
        }
        if (Difference("output", Outputs, other.Outputs) is { } p)
        {
            return p;
        }
        if (Difference("event", Trace, other.Trace) is { } t)
        {
            return t;
        }
        if (!Stop.Equals(other.Stop))
        {
            return $"stop: {Stop} vs {other.Stop}";
        }
        return Steps != other.Steps ? $"steps: {Steps} vs {other.Steps}" : null;
    }

    private static string? Difference<T>(string what, IReadOnlyList<T> a, IReadOnlyList<T> b)
    {
        var n = Math.Min(a.Count, b.Count);
        for (var i = 0; i < n; i++)
        {
            if (!EqualityComparer<T>.Default.Equals(a[i], b[i]))
            {
                return $"{what} {i}: {a[i]} vs {b[i]}";
            }
        }
        return a.Count == b.Count ? null : $"{what} count: {a.Count} vs {b.Count}";
    }
}
