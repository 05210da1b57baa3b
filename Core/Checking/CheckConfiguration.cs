using CpuidFunctional.Core.Cpuid;
using CpuidFunctional.Core.Model;
using CpuidFunctional.Core.State;

namespace CpuidFunctional.Core.Checking;

/// <summary>
/// A VM configuration to check: the VM (host, kernel profile, quirks), the guest CPUID table userspace installs, and
/// the policies run side by side. The initial state of each policy is a new vCPU after KVM_SET_CPUID2 of the table
/// and a first KVM_RUN.
/// </summary>
/// <param name="Vm">The VM: host, kernel profile, disabled and supported quirks.</param>
/// <param name="GuestCpuid">The table installed with KVM_SET_CPUID2 before the first run.</param>
/// <param name="Policies">The policies run in lock-step (at least one); their observations must agree.</param>
public sealed record CheckConfiguration(Vm Vm, CpuidTable GuestCpuid, ValueArray<Policy> Policies)
{
    /// <summary>A configuration whose guest CPUID is the host's own table, checked under the three correct policies.</summary>
    public static CheckConfiguration FromHost(Host.HostCpu host, KernelProfile profile) =>
        new(new Vm(host, profile), host.Cpuid, new ValueArray<Policy>([.. Policy.Correct]));

    /// <summary>The same configuration under other policies.</summary>
    public CheckConfiguration WithPolicies(params Policy[] policies) => this with { Policies = new ValueArray<Policy>([.. policies]) };

    /// <summary>Each policy's initial state: KVM_SET_CPUID2 of the guest table on a new vCPU, then KVM_RUN.</summary>
    public ProductState InitialState() =>
        new(new ValueArray<KvmState>([.. Policies.Select(p => Kvm.Step(p, KvmState.WithCpuid(Vm, p, GuestCpuid), new VcpuEvent.Run()).State)]));
}
