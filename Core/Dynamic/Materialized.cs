using CpuidFunctional.Core.Cpuid;
using CpuidFunctional.Core.State;

namespace CpuidFunctional.Core.Dynamic;

/// <summary>The result of one runtime update: the rewritten table, the cached capability bits, and the sizes computed.</summary>
/// <param name="Table">The table with the dynamic outputs current (the same instance if nothing changed).</param>
/// <param name="Caps">The dynamic capability bits after the update.</param>
/// <param name="XstateSizeComputations">How many times <c>xstate_required_size</c> ran.</param>
public readonly record struct Materialized(CpuidTable Table, DynamicCaps Caps, int XstateSizeComputations);
