using CpuidFunctional.Core.Dynamic;
using static CpuidFunctional.Properties.Core.TestHosts;

namespace CpuidFunctional.Properties.Core;

/// <summary>
/// <c>__kvm_is_valid_cr4</c> refuses KVM's own reserved bits (<c>cr4_reserved_bits</c>, from what KVM supports on the
/// host) and, once KVM_SET_CPUID2 has run, the guest's (<c>cr4_guest_rsvd_bits</c>). Before KVM_SET_CPUID2 only the
/// first apply: the KVM selftest set_sregs_test sets every supported CR4 bit on a vCPU that never gets a CPUID table.
/// </summary>
public class Cr4ReservedBitsTests
{
    private static readonly Observation Ok = new Observation.IoctlDone(0);
    private static readonly Observation Einval = new Observation.IoctlError(Errno.EINVAL);

    // The bits set_sregs_test always sets (VME..OSXMMEXCPT), and the feature bits it tries one by one.
    private const ulong AlwaysAllowed = 0x7FF;

    private static readonly (string Name, ulong Bit)[] FeatureBits =
    [
        ("UMIP", Cr4.Umip), ("LA57", Cr4.La57), ("VMXE", Cr4.Vmxe), ("SMXE", Cr4.Smxe), ("FSGSBASE", Cr4.FsGsBase), ("PCIDE", Cr4.Pcide),
        ("OSXSAVE", Cr4.OsXsave), ("SMEP", Cr4.Smep), ("SMAP", Cr4.Smap), ("PKE", Cr4.Pke), ("CET", Cr4.Cet),
    ];

    /// <summary>What KVM_SET_SREGS accepts on a vCPU without KVM_SET_CPUID2, bit by bit, named.</summary>
    private static string Accepted(HostCpu host, KernelProfile profile)
    {
        var fresh = KvmState.Create(new Vm(host, profile), Policy.Lazy);
        return string.Join(" ", FeatureBits.Where(f =>
            Kvm.Step(Policy.Lazy, fresh, new VcpuEvent.SetSregs(AlwaysAllowed | f.Bit, Msr.ApicBaseDefault) { Cr0 = 0 }).Observation == Ok).Select(f => f.Name));
    }

    [Theory]
    [InlineData("skylake-sp", KernelProfile.Linux6_18, "UMIP VMXE FSGSBASE PCIDE OSXSAVE SMEP SMAP PKE")]
    [InlineData("sapphire-rapids", KernelProfile.Linux6_18, "UMIP LA57 VMXE FSGSBASE PCIDE OSXSAVE SMEP SMAP PKE CET")]
    [InlineData("sapphire-rapids", KernelProfile.Linux6_15, "UMIP LA57 VMXE FSGSBASE PCIDE OSXSAVE SMEP SMAP PKE")]
    [InlineData("genoa", KernelProfile.Linux6_18, "UMIP LA57 FSGSBASE PCIDE OSXSAVE SMEP SMAP PKE CET")] // kvm_amd: no VMX; Zen 4 has shadow stacks
    public void Before_KVM_SET_CPUID2_every_CR4_bit_KVM_supports_on_the_host_is_accepted_and_no_other(string host, KernelProfile profile, string accepted)
    {
        Assert.Equal(accepted, Accepted(HostPresets.All[host], profile));
    }

    [Fact]
    public void After_KVM_SET_CPUID2_a_bit_is_accepted_only_if_both_KVM_and_the_guest_have_its_feature()
    {
        var noPku = CpuidTable.Of(SkylakeGuest.Entries.Select(e => e.Function == 7 && e.Index == 0 ? e.WithBit(CpuidRegister.Ecx, 3, false) : e));
        var guestLacksPku = KvmState.WithCpuid(Vm(), Policy.Lazy, noPku);
        Assert.Equal(Einval, Kvm.Step(Policy.Lazy, guestLacksPku, new VcpuEvent.SetSregs(Cr4.Pke, Msr.ApicBaseDefault)).Observation);

        var claimsLa57 = CpuidTable.Of(SkylakeGuest.Entries.Select(e => e.Function == 7 && e.Index == 0 ? e.WithBit(CpuidRegister.Ecx, 16, true) : e));
        Assert.True(GuestFeature.La57.In(claimsLa57));
        var kvmLacksLa57 = KvmState.WithCpuid(Vm(), Policy.Lazy, claimsLa57);
        Assert.Equal(Einval, Kvm.Step(Policy.Lazy, kvmLacksLa57, new VcpuEvent.SetSregs(Cr4.La57, Msr.ApicBaseDefault)).Observation);
        Assert.Equal(Ok, Kvm.Step(Policy.Lazy, kvmLacksLa57, new VcpuEvent.SetSregs(Cr4.Pke, Msr.ApicBaseDefault)).Observation);
    }
}
