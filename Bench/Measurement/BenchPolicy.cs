using CpuidFunctional.Bench.Mutable;

namespace CpuidFunctional.Bench.Measurement;

/// <summary>One column of the comparison: a Core policy run by the functional interpreter, or the mutable baseline.</summary>
/// <param name="Name">The name the table and the JSON use.</param>
/// <param name="Functional">The Core policy, for the functional interpreter.</param>
/// <param name="Mutable">The update scheme, for the mutable baseline.</param>
internal sealed record BenchPolicy(string Name, Policy? Functional, MutableMode? Mutable)
{
    /// <summary>Every policy in table order: Eager, Lazy, Reference, Mutable-Eager, Mutable-Lazy.</summary>
    public static IReadOnlyList<BenchPolicy> All { get; } =
    [
        new("Eager", Policy.Eager, null),
        new("Lazy", Policy.Lazy, null),
        new("Reference", Policy.Reference, null),
        new("Mutable-Eager", null, MutableMode.Eager),
        new("Mutable-Lazy", null, MutableMode.Lazy),
    ];
}
