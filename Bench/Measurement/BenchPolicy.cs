using CpuidFunctional.Bench.Mutable;

namespace CpuidFunctional.Bench.Measurement;

/// <summary>One column of the comparison: a Core policy run by the functional interpreter, or the mutable baseline.</summary>
/// <param name="Name">The name the table and the JSON use.</param>
/// <param name="Functional">The Core policy, for the functional interpreter.</param>
/// <param name="Mutable">The update scheme, for the mutable baseline.</param>
internal sealed record BenchPolicy(string Name, Policy? Functional, MutableMode? Mutable)
{
    /// <summary>Eager, the column the ratios divide by.</summary>
    public static BenchPolicy Eager { get; } = Of(Policy.Eager);

    /// <summary>Every policy in table order: eager, lazy, reference, mutable-eager, mutable-lazy (the one spelling of docs/cli.md).</summary>
    public static IReadOnlyList<BenchPolicy> All { get; } =
    [
        Eager,
        Of(Policy.Lazy),
        Of(Policy.Reference),
        Of(MutableMode.Eager),
        Of(MutableMode.Lazy),
    ];

    private static BenchPolicy Of(Policy functional) => new(functional.Name, functional, null);

    private static BenchPolicy Of(MutableMode mutable) => new("mutable-" + mutable.ToString().ToLowerInvariant(), null, mutable);
}
