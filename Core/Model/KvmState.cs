using CpuidFunctional.Core.Cpuid;
using CpuidFunctional.Core.Host;
using CpuidFunctional.Core.State;

namespace CpuidFunctional.Core.Model;

/// <summary>The whole modelled state: the VM and its one vCPU. Compared by value.</summary>
/// <param name="Vm">VM-level state.</param>
/// <param name="Vcpu">The vCPU.</param>
public readonly record struct KvmState(Vm Vm, Vcpu Vcpu)
{
    /// <summary>
    /// A freshly created vCPU (<c>kvm_arch_vcpu_create</c> then <c>kvm_vcpu_reset(vcpu, false)</c>): empty table,
    /// RESET register values, MSR_PLATFORM_INFO as the VM gives it (<see cref="Vm.PlatformInfoAtCreation"/>), the CR4
    /// bits KVM refuses before KVM_SET_CPUID2 (<see cref="Cr4ReservedAtCreation"/>) and, under the lazy schemes, the
    /// marker set.
    /// </summary>
    public static KvmState Create(Vm vm, Policy policy) =>
        new(vm, new Vcpu
        {
            CpuidDynamicBitsDirty = policy.IsLazy,
            Rare = VcpuRare.AtReset with
            {
                PlatformInfo = vm.PlatformInfoAtCreation,
                ArchCapabilitiesTsxCtrl = vm.TsxCtrlInArchCapabilitiesAtCreation,
                // 6.14 on runs vmx_vcpu_after_set_cpuid at creation, with no table: no RTM.
                TsxCtrl = KernelProfiles.DerivesGuestCapsAtVcpuCreation(vm.Profile) ? Kvm.TsxCtrlAfterSetCpuid(vm.Host, CpuidTable.Empty, 0) : 0,
                Guest = GuestCaps.None with { Cr4ReservedByFeatures = Cr4ReservedAtCreation(vm) },
            },
        });

    /// <summary>
    /// The CR4 bits a vCPU refuses before KVM_SET_CPUID2: KVM's own (<see cref="SupportedCpuid.Cr4ReservedBits"/>) and,
    /// where the profile derives guest capabilities at creation, every feature-gated bit (an empty table has no feature;
    /// <see cref="KernelProfiles.DerivesGuestCapsAtVcpuCreation"/>).
    /// </summary>
    public static ulong Cr4ReservedAtCreation(Vm vm) =>
        SupportedCpuid.Cr4ReservedBits(vm.Host, vm.Profile)
        | (KernelProfiles.DerivesGuestCapsAtVcpuCreation(vm.Profile) ? GuestCaps.None.Cr4ReservedByFeatures : 0);

    /// <summary>A new vCPU on a host followed by a successful KVM_SET_CPUID2 of a table.</summary>
    public static KvmState WithCpuid(Vm vm, Policy policy, CpuidTable table) =>
        Kvm.Step(policy, Create(vm, policy), new VcpuEvent.SetCpuid2(table)).State;

    /// <summary>A new VM on a host with the default profile and no quirk disabled.</summary>
    public static Vm NewVm(HostCpu host, KernelProfile profile = KernelProfile.Linux6_18) => new(host, profile);
}
