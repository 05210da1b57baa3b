namespace CpuidFunctional.Bench.Mutable;

/// <summary>When the mutable baseline brings the dynamic CPUID outputs up to date (KVM 6.14 vs 6.15).</summary>
internal enum MutableMode
{
    /// <summary>Every trigger runs the runtime update at once.</summary>
    Eager,

    /// <summary>Triggers set <c>cpuid_dynamic_bits_dirty</c>; consumers clear it and update.</summary>
    Lazy,
}
