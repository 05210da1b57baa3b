using System.Globalization;

namespace CpuidFunctional.Core.State;

/// <summary>
/// What <c>kvm_vcpu_after_set_cpuid</c> derives from the guest's CPUID table and stores in the vCPU: the static
/// feature bits of <c>cpu_caps</c>, <c>guest_supported_xcr0</c>, <c>guest_supported_xss</c>,
/// <c>maxphyaddr</c> and <c>cr4_guest_rsvd_bits</c>. Like KVM, the model sets these only when KVM_SET_CPUID2
/// installs a table; none of them is dynamic, so a pending update never makes them stale.
/// </summary>
/// <param name="Features">Static guest features, one bit per <see cref="Dynamic.GuestFeature"/> (its <c>Mask</c>).</param>
/// <param name="SupportedXcr0">CPUID.0xD.0 EDX:EAX limited to KVM's supported XCR0 (<c>kvm_caps.supported_xcr0</c>).</param>
/// <param name="SupportedXss">CPUID.0xD.1 EDX:ECX limited to the host's XSS features.</param>
/// <param name="MaxPhysAddr">CPUID.0x80000008:EAX[7:0], or 36 without that leaf.</param>
/// <param name="Cr4ReservedByFeatures">CR4 bits refused for lack of a feature: the ones KVM lacks (<c>cr4_reserved_bits</c>) and the ones the guest lacks (<c>cr4_guest_rsvd_bits</c>; before KVM_SET_CPUID2 an empty table's from 6.14, none on 6.1).</param>
public readonly record struct GuestCaps(ulong Features, ulong SupportedXcr0, ulong SupportedXss, byte MaxPhysAddr, ulong Cr4ReservedByFeatures)
{
    /// <summary>What a vCPU has before any KVM_SET_CPUID2: no feature, 36-bit physical addresses.</summary>
    public static GuestCaps None { get; } = Dynamic.GuestCpuCaps.Derive(Cpuid.CpuidTable.Empty, 0, 0);

    /// <inheritdoc/>
    public override string ToString() =>
        string.Create(
            CultureInfo.InvariantCulture,
            $"GuestCaps(features=0x{Features:x}, xcr0=0x{SupportedXcr0:x}, xss=0x{SupportedXss:x}, maxphyaddr={MaxPhysAddr}, cr4rsvd=0x{Cr4ReservedByFeatures:x})"
        );
}
