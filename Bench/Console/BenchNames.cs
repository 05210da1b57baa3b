using CpuidFunctional.Bench.Measurement;
using CpuidFunctional.Cli;
using CpuidFunctional.Interpreter.Harness;

namespace CpuidFunctional.Bench.Console;

/// <summary>
/// The Bench console's names, spelt as cpuidf spells them (<see cref="Choices"/>): a functional policy by its
/// kebab-case name, the mutable baseline as <c>mutable-</c> and its scheme; workloads by their harness names.
/// </summary>
internal static class BenchNames
{
    /// <summary>The policies of the comparison: eager, lazy, reference, mutable-eager, mutable-lazy.</summary>
    public static NameTable<BenchPolicy> Policies { get; } = new("policy", BenchPolicy.All.Select(p => (p.Name, p)));

    /// <summary>The workloads of <see cref="Workloads"/>.</summary>
    public static NameTable<string> Workloads { get; } = new("workload", Interpreter.Harness.Workloads.Names.Select(w => (w, w)));
}
