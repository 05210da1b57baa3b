using CpuidFunctional.Core;
using CpuidFunctional.Core.Checking;
using CpuidFunctional.Core.Cpuid;
using CpuidFunctional.Core.Model;
using CpuidFunctional.Core.State;

namespace CpuidFunctional.Properties.Generators;

/// <summary>
/// A test case: a VM (host, kernel profile, quirks disabled at creation) and the events applied, in order, to a
/// vCPU fresh from <see cref="KvmState.Create"/>. The first event is the KVM_SET_CPUID2 of the guest table.
/// </summary>
/// <param name="Vm">The VM the vCPU belongs to.</param>
/// <param name="Events">The events, first the initial KVM_SET_CPUID2.</param>
public sealed record KvmTrace(Vm Vm, ValueArray<VcpuEvent> Events)
{
    /// <summary>The state every policy starts from.</summary>
    public KvmState Start(Policy policy) => KvmState.Create(Vm, policy);

    /// <summary>The trace as a numbered event script.</summary>
    public override string ToString() => Script(Events.Count);

    /// <summary>
    /// The first <paramref name="count"/> events as a numbered script. The first KVM_SET_CPUID2 lists its table
    /// (the XSAVE component sub-leaves 0xD.2 and up, which no rule reads, are only counted); later ones list the
    /// entries that differ from it.
    /// </summary>
    public string Script(int count) => new EventTrace(Vm, Events).Script(count);
}
