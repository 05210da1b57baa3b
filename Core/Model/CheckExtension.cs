using System.Diagnostics;
using CpuidFunctional.Core.Host;

namespace CpuidFunctional.Core.Model;

/// <summary>
/// KVM_CHECK_EXTENSION (<c>kvm_vm_ioctl_check_extension</c>) for the capabilities whose answers follow from rules the
/// model already has: what a VMM reads before it sizes an XSAVE buffer, sets XCRs, disables exits or quirks. Asked on
/// /dev/kvm or on a VM, x86 gives the same answers for these.
/// </summary>
public static class CheckExtension
{
    /// <summary><c>sizeof(struct kvm_xsave)</c>: the legacy 4 KiB buffer, the least KVM_CAP_XSAVE2 ever returns.</summary>
    public const int KvmXsaveSize = 4096;

    /// <summary>
    /// The capabilities <see cref="Answer"/> knows, in <c>KVM_CAP_*</c> order. Of the oracle's other numbers, SMM and
    /// nested state depend on the vendor module's build and set-up, which the model does not describe, and IRQCHIP and
    /// SREGS2 (1 on both kernels) name ioctls the model does not have.
    /// </summary>
    public static readonly IReadOnlyList<KvmCapability> Known =
    [
        KvmCapability.Xsave,
        KvmCapability.Xcrs,
        KvmCapability.X86DisableExits,
        KvmCapability.Xsave2,
        KvmCapability.DisableQuirks2,
    ];

    /// <summary>
    /// What KVM_CHECK_EXTENSION returns for <paramref name="capability"/> on the VM's host and kernel, or null where the
    /// model does not know (<see cref="Known"/>):
    /// <list type="bullet">
    /// <item>KVM_CAP_XSAVE: 1, always.</item>
    /// <item>KVM_CAP_XCRS: 1 where the host has XSAVE (<see cref="HostCpu.HasXsave"/>), else 0.</item>
    /// <item>KVM_CAP_X86_DISABLE_EXITS: the exits the host lets a VMM disable (<see cref="DisableExits.Allowed"/>).</item>
    /// <item>KVM_CAP_XSAVE2: the standard-format size of the XCR0 features the process may give a guest
    /// (<see cref="SupportedCpuid.PermittedXcr0"/>, the same size as CPUID.0xD.0:EBX of KVM_GET_SUPPORTED_CPUID), but at
    /// least <see cref="KvmXsaveSize"/>: above it only where the process asked for AMX tile data.</item>
    /// <item>KVM_CAP_DISABLE_QUIRKS2: the quirks the kernel lets a VMM disable (<see cref="Vm.SupportedQuirks"/>).</item>
    /// </list>
    /// </summary>
    public static int? Answer(Vm vm, KvmCapability capability) =>
        capability switch
        {
            KvmCapability.Xsave => 1,
            KvmCapability.Xcrs => vm.Host.HasXsave ? 1 : 0,
            KvmCapability.X86DisableExits => (int)DisableExits.Allowed(vm.Host, vm.Profile),
            KvmCapability.Xsave2 => Math.Max(KvmXsaveSize, (int)vm.Host.Xsave.RequiredSize(SupportedCpuid.PermittedXcr0(vm), compacted: false)),
            KvmCapability.DisableQuirks2 => (int)vm.SupportedQuirks,
            _ => null,
        };

    /// <summary>The capability's name in <c>include/uapi/linux/kvm.h</c> (<c>KVM_CAP_XSAVE2</c>), as scenarios and reports spell it.</summary>
    public static string KvmName(KvmCapability capability) =>
        capability switch
        {
            KvmCapability.Irqchip => "KVM_CAP_IRQCHIP",
            KvmCapability.Xsave => "KVM_CAP_XSAVE",
            KvmCapability.Xcrs => "KVM_CAP_XCRS",
            KvmCapability.X86Smm => "KVM_CAP_X86_SMM",
            KvmCapability.X86DisableExits => "KVM_CAP_X86_DISABLE_EXITS",
            KvmCapability.NestedState => "KVM_CAP_NESTED_STATE",
            KvmCapability.Sregs2 => "KVM_CAP_SREGS2",
            KvmCapability.Xsave2 => "KVM_CAP_XSAVE2",
            KvmCapability.DisableQuirks2 => "KVM_CAP_DISABLE_QUIRKS2",
            _ => throw new UnreachableException($"KVM_CAP number {(uint)capability}"),
        };
}
