using CpuidFunctional.Core.Cpuid;

namespace CpuidFunctional.Core.State;

/// <summary>
/// What <c>kvm_update_cpuid_runtime</c> and the marker leave in a vCPU: the table (<c>vcpu->arch.cpuid_entries</c>),
/// its dynamic capability bits and <c>cpuid_dynamic_bits_dirty</c>, as a trigger-site write stores them with its
/// register (<see cref="Vcpu.Runtime"/>).
/// </summary>
/// <param name="Table">The CPUID table.</param>
/// <param name="Caps">The dynamic bits of <c>cpu_caps</c>.</param>
/// <param name="Dirty">The pending-update marker.</param>
internal readonly record struct CpuidRuntime(CpuidTable Table, DynamicCaps Caps, bool Dirty)
{
    /// <summary>Whether a vCPU holds exactly this: the same table instance, caps and marker (no copy needed).</summary>
    public bool IsIn(Vcpu v) => ReferenceEquals(Table, v.Cpuid) && Caps == v.Caps && Dirty == v.CpuidDynamicBitsDirty;
}
