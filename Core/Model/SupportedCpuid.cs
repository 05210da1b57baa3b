using CpuidFunctional.Core.Cpuid;
using CpuidFunctional.Core.Dynamic;
using CpuidFunctional.Core.Host;
using CpuidFunctional.Core.State;

namespace CpuidFunctional.Core.Model;

/// <summary>
/// What the model can say of KVM_GET_SUPPORTED_CPUID (<c>kvm_set_cpu_caps</c>, <c>__do_cpuid_func</c>) without
/// KVM's whole <c>kvm_cpu_caps</c>: the bits of the leaves the dynamic outputs live in, for a host and a profile. A
/// register's answer is a mask of the bits the model knows and their values; every other bit is unknown to it.
/// </summary>
/// <remarks>
/// Facts (6.1 and 6.18 read): OSXSAVE, OSPKE and MWAIT are never advertised (6.1 leaves them out of the capability
/// masks, 6.18 marks OSXSAVE and OSPKE as runtime features and MWAIT as emulated-as-NOP only); X2APIC is advertised
/// whatever the host (KVM emulates it); XSAVE and APIC pass the host's bit. CPUID.0xD.0's EDX:EAX is KVM's supported
/// XCR0 as the calling process may offer it (<see cref="PermittedXcr0"/>: the host's XCR0 features limited to the ones
/// KVM can context-switch, <c>KVM_SUPPORTED_XCR0</c>: x87, SSE, AVX, the MPX pair, AVX-512, PKRU and AMX; kvm_amd drops
/// the MPX pair in its hardware set-up, kvm_intel keeps it where the processor has MPX, since the host kernel still
/// enables MPX in XCR0 for guests; AMX tile data only after the VMM's guest permission request,
/// <see cref="Vm.XcompGuestPermRequested"/>), EBX and ECX its standard-format size; CPUID.0xD.1's EBX is the compacted
/// size of that XCR0 with <see cref="KernelProfiles.SupportedXss"/> when the host has XSAVEC or XSAVES, else 0, and its
/// ECX:EDX the supported XSS. 0x40000000 is KVM's signature leaf: EAX 0x40000001 and
/// "KVMKVMKVM\0\0\0".
/// </remarks>
public static class SupportedCpuid
{
    /// <summary>The bits the model knows of a register of KVM_GET_SUPPORTED_CPUID's entry (leaf, sub-leaf), and their values.</summary>
    public readonly record struct Known(uint Mask, uint Value);

    private static uint Bit(int n) => 1u << n;

    /// <summary>
    /// KVM's supported XCR0 (<c>kvm_caps.supported_xcr0</c>) as the model takes it (see the remarks), whatever the
    /// process may give a guest: what <c>guest_supported_xcr0</c> is limited to. 0 on a host without XSAVE: KVM sets
    /// it only where <c>boot_cpu_has(X86_FEATURE_XSAVE)</c> (<c>kvm_x86_vendor_init</c>).
    /// </summary>
    public static ulong SupportedXcr0(HostCpu host) =>
        !host.HasXsave ? 0
        : host.SupportedXcr0 & KvmSupportedXcr0 & (host.IsAmdOrHygon ? ~(Xcr0.Bndregs | Xcr0.Bndcsr) : ulong.MaxValue);

    /// <summary>
    /// Whether the VM's process may give a guest AMX tile data (<c>xstate_get_guest_group_perm</c> has XTILEDATA): only
    /// after it asked (<see cref="Vm.XcompGuestPermRequested"/>), and only where the host has the feature (the request
    /// fails elsewhere). Without it KVM_SET_CPUID2 of a table offering XTILEDATA fails with EPERM
    /// (<c>kvm_check_cpuid</c>, <c>fpu_enable_guest_xfd_features</c>).
    /// </summary>
    public static bool GuestMayUseXtileData(Vm vm) => vm.XcompGuestPermRequested && (vm.Host.SupportedXcr0 & Xcr0.XtileData) != 0;

    /// <summary>
    /// CPUID.0xD.0's EDX:EAX in KVM_GET_SUPPORTED_CPUID (6.18's <c>kvm_get_filtered_xcr0</c>; 6.1's
    /// <c>kvm_caps.supported_xcr0 &amp; xstate_get_guest_group_perm()</c>): <see cref="SupportedXcr0"/> without XTILEDATA
    /// unless the process may give it (<see cref="GuestMayUseXtileData"/>), and then also without XTILECFG where the
    /// profile filters it (<see cref="KernelProfiles.FiltersXtileCfgWithoutXtileData"/>).
    /// </summary>
    public static ulong PermittedXcr0(Vm vm)
    {
        var xcr0 = SupportedXcr0(vm.Host);
        if ((xcr0 & Xcr0.XtileData) == 0 || GuestMayUseXtileData(vm))
        {
            return xcr0;
        }
        return xcr0 & ~(KernelProfiles.FiltersXtileCfgWithoutXtileData(vm.Profile) ? Xcr0.Xtile : Xcr0.XtileData);
    }

    /// <summary><c>KVM_SUPPORTED_XCR0</c> (x86.c): the XCR0 features KVM can offer a guest at all.</summary>
    public const ulong KvmSupportedXcr0 = Xcr0.Fp | Xcr0.Sse | Xcr0.Ymm | Xcr0.Bndregs | Xcr0.Bndcsr | Xcr0.Avx512 | Xcr0.Pkru | Xcr0.Xtile;

    /// <summary>
    /// KVM's <c>cr4_reserved_bits</c>: what <c>__kvm_is_valid_cr4</c> refuses whatever the guest's CPUID, and all it
    /// refuses before the first KVM_SET_CPUID2 (<c>cr4_guest_rsvd_bits</c> is 0 until then). The profile's allow-list
    /// (<see cref="KernelProfiles.AlwaysReservedCr4"/>) and <c>__cr4_reserved_bits</c> over <c>kvm_cpu_caps</c>, taken as
    /// the host's bits except that kvm_intel emulates UMIP (<c>vmx_umip_emulated</c>), only kvm_intel offers VMX (with
    /// nested=1, the default), the shadow-stack and IBT caps need the CET series and the CET state in
    /// <see cref="KernelProfiles.SupportedXss"/>, and the model offers no LAM.
    /// </summary>
    public static ulong Cr4ReservedBits(HostCpu host, KernelProfile profile)
    {
        var intel = !host.IsAmdOrHygon;
        var cet = KernelProfiles.SupportedXss(profile, host) != 0;
        var features = 0ul;
        foreach (var f in HostPassedCr4Features)
        {
            features |= f.In(host.Cpuid) ? f.Mask : 0;
        }
        features |= intel || GuestFeature.Umip.In(host.Cpuid) ? GuestFeature.Umip.Mask : 0;
        features |= intel && GuestFeature.Vmx.In(host.Cpuid) ? GuestFeature.Vmx.Mask : 0;
        features |= cet && GuestFeature.Shstk.In(host.Cpuid) ? GuestFeature.Shstk.Mask : 0;
        features |= cet && GuestFeature.Ibt.In(host.Cpuid) ? GuestFeature.Ibt.Mask : 0;
        return GuestCpuCaps.Cr4Reserved(features) | KernelProfiles.AlwaysReservedCr4(profile);
    }

    /// <summary>The CR4-gating features whose KVM capability is the host's bit (<see cref="Cr4ReservedBits"/>).</summary>
    private static readonly GuestFeature[] HostPassedCr4Features =
        [GuestFeature.Xsave, GuestFeature.Smep, GuestFeature.Smap, GuestFeature.FsGsBase, GuestFeature.Pcid, GuestFeature.La57, GuestFeature.Pku];

    /// <summary>What the model knows of one register as the VM's process asks; mask 0 where it knows nothing.</summary>
    public static Known Answer(Vm vm, uint leaf, uint subleaf, CpuidRegister register)
    {
        var host = vm.Host;
        var xcr0 = PermittedXcr0(vm);
        var xss = KernelProfiles.SupportedXss(vm.Profile, host);
        return (leaf, subleaf, register) switch
        {
            // MWAIT (3), X2APIC (21), XSAVE (26), OSXSAVE (27)
            (1, _, CpuidRegister.Ecx) => new(Bit(3) | Bit(21) | Bit(26) | Bit(27), Bit(21) | (host.HasXsave ? Bit(26) : 0)),
            (1, _, CpuidRegister.Edx) => new(Bit(9), host.Cpuid.IndexOfFunction(1) is var i and >= 0 && host.Cpuid[i].Has(CpuidRegister.Edx, 9) ? Bit(9) : 0),
            (7, 0, CpuidRegister.Ecx) => new(Bit(4), 0), // OSPKE
            (0xD, 0, CpuidRegister.Eax) => new(uint.MaxValue, (uint)xcr0),
            (0xD, 0, CpuidRegister.Edx) => new(uint.MaxValue, (uint)(xcr0 >> 32)),
            (0xD, 0, CpuidRegister.Ebx or CpuidRegister.Ecx) => new(uint.MaxValue, host.Xsave.RequiredSize(xcr0, compacted: false)),
            (0xD, 1, CpuidRegister.Ebx) => new(
                uint.MaxValue,
                GuestFeature.Xsavec.In(host.Cpuid) || GuestFeature.Xsaves.In(host.Cpuid) ? host.Xsave.RequiredSize(xcr0 | xss, compacted: true) : 0),
            (0xD, 1, CpuidRegister.Ecx) => new(uint.MaxValue, (uint)xss),
            (0xD, 1, CpuidRegister.Edx) => new(uint.MaxValue, (uint)(xss >> 32)),
            (0x4000_0000, _, CpuidRegister.Eax) => new(uint.MaxValue, 0x4000_0001),
            (0x4000_0000, _, CpuidRegister.Ebx) => new(uint.MaxValue, PvFeatures.SignatureEbx),
            (0x4000_0000, _, CpuidRegister.Ecx) => new(uint.MaxValue, PvFeatures.SignatureEcx),
            (0x4000_0000, _, CpuidRegister.Edx) => new(uint.MaxValue, PvFeatures.SignatureEdx),
            _ => new(0, 0),
        };
    }
}
