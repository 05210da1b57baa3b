using CpuidFunctional.Core.Cpuid;
using CpuidFunctional.Core.Host;

namespace CpuidFunctional.Core.Model;

/// <summary>
/// KVM_CAP_X86_DISABLE_EXITS: the exits a VMM may let a guest run without (<c>KVM_X86_DISABLE_EXITS_*</c>), which of
/// them the kernel offers on a host (<c>kvm_get_allowed_disable_exits</c>, KVM_CHECK_EXTENSION), and what enabling
/// them does to a VM (<c>kvm_vm_ioctl_enable_cap</c>). The model's only use of them is HLT's: a VM whose HLT exits
/// are disabled gets KVM_FEATURE_PV_UNHALT cleared from its guests' KVM features leaf (<see cref="PvFeatures"/>).
/// </summary>
public static class DisableExits
{
    /// <summary>KVM_X86_DISABLE_EXITS_MWAIT.</summary>
    public const ulong Mwait = 1ul << 0;

    /// <summary>KVM_X86_DISABLE_EXITS_HLT.</summary>
    public const ulong Hlt = 1ul << 1;

    /// <summary>KVM_X86_DISABLE_EXITS_PAUSE.</summary>
    public const ulong Pause = 1ul << 2;

    /// <summary>KVM_X86_DISABLE_EXITS_CSTATE.</summary>
    public const ulong Cstate = 1ul << 3;

    /// <summary>KVM_X86_DISABLE_EXITS_APERFMPERF (from 6.17; <see cref="KernelProfiles.HasAperfMperfExit"/>).</summary>
    public const ulong AperfMperf = 1ul << 4;

    /// <summary>6.1's <c>KVM_X86_DISABLE_VALID_EXITS</c>: the four bits it takes, whatever the host.</summary>
    public const ulong ValidBefore614 = Mwait | Hlt | Pause | Cstate;

    /// <summary>
    /// <c>kvm_can_mwait_in_guest</c>: the host has MWAIT (CPUID.1:ECX[3]) and an always-running APIC timer (ARAT,
    /// CPUID.6:EAX[2]). (The kernel's X86_BUG_MONITOR, which no CPUID dump shows, is taken as absent.)
    /// </summary>
    public static bool CanMwaitInGuest(HostCpu host) =>
        host.Cpuid.Find(1, 0) is { } leaf1 && leaf1.Has(CpuidRegister.Ecx, 3) && host.Cpuid.Find(6, 0) is { } leaf6 && leaf6.Has(CpuidRegister.Eax, 2);

    /// <summary>
    /// What KVM_CHECK_EXTENSION(KVM_CAP_X86_DISABLE_EXITS) returns (<c>kvm_get_allowed_disable_exits</c>): PAUSE always;
    /// HLT and CSTATE (the model takes <c>mitigate_smt_rsb</c> as off, its default); MWAIT where
    /// <see cref="CanMwaitInGuest"/>; on the 6.18 profile APERFMPERF where the host has it (CPUID.6:ECX[0]; 6.17 on).
    /// </summary>
    public static ulong Allowed(HostCpu host, KernelProfile profile) =>
        Pause | Hlt | Cstate
        | (CanMwaitInGuest(host) ? Mwait : 0)
        | (KernelProfiles.HasAperfMperfExit(profile) && host.Cpuid.Find(6, 0) is { } leaf6 && leaf6.Has(CpuidRegister.Ecx, 0) ? AperfMperf : 0);

    /// <summary>
    /// KVM_ENABLE_CAP(KVM_CAP_X86_DISABLE_EXITS, <paramref name="mask"/>) on <paramref name="vm"/>: the VM with those
    /// exits disabled too (they add up and cannot be enabled again), or null for EINVAL. From 6.14 a bit the host does
    /// not offer (<see cref="Allowed"/>) or a vCPU that already exists is EINVAL. 6.1 refuses only bits outside
    /// <see cref="ValidBefore614"/>, takes the request at any time and drops MWAIT where the guest may not run it.
    /// </summary>
    public static Vm? Enable(Vm vm, ulong mask, bool vcpuCreated)
    {
        ulong granted;
        if (KernelProfiles.DisableExitsOnlyBeforeVcpusAndAllowed(vm.Profile))
        {
            if ((mask & ~Allowed(vm.Host, vm.Profile)) != 0 || vcpuCreated)
            {
                return null;
            }
            granted = mask;
        }
        else
        {
            if ((mask & ~ValidBefore614) != 0)
            {
                return null;
            }
            granted = CanMwaitInGuest(vm.Host) ? mask : mask & ~Mwait;
        }
        var exits = vm.DisabledExits | granted;
        return exits == vm.DisabledExits ? vm : vm with { DisabledExits = exits };
    }
}
