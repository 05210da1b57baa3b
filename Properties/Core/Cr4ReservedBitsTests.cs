using CpuidFunctional.Core.Dynamic;
using static CpuidFunctional.Properties.Core.TestHosts;

namespace CpuidFunctional.Properties.Core;

/// <summary>
/// <c>__kvm_is_valid_cr4</c> refuses KVM's own reserved bits (<c>cr4_reserved_bits</c>, from what KVM supports on the
/// host) and the guest's (<c>cr4_guest_rsvd_bits</c>). What a vCPU without KVM_SET_CPUID2 refuses changed in 6.14: 6.1
/// has no guest bits yet, so the KVM selftest set_sregs_test of that time set every supported CR4 bit; from 6.14 a new
/// vCPU already has an empty table's capabilities, and the rewritten selftest expects only the always-allowed bits.
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
    [InlineData("skylake-sp", "UMIP VMXE FSGSBASE PCIDE OSXSAVE SMEP SMAP PKE")]
    [InlineData("sapphire-rapids", "UMIP LA57 VMXE FSGSBASE PCIDE OSXSAVE SMEP SMAP PKE")] // CET: not in 6.1's allow-list
    [InlineData("genoa", "UMIP LA57 FSGSBASE PCIDE OSXSAVE SMEP SMAP PKE")] // kvm_amd: no VMX
    public void On_6_1_before_KVM_SET_CPUID2_every_CR4_bit_KVM_supports_on_the_host_is_accepted_and_no_other(string host, string accepted)
    {
        Assert.Equal(accepted, Accepted(HostPresets.All[host], KernelProfile.Linux6_1));
    }

    [Theory]
    [InlineData(KernelProfile.Linux6_15)]
    [InlineData(KernelProfile.Linux6_18)]
    public void From_6_14_before_KVM_SET_CPUID2_no_feature_gated_CR4_bit_is_accepted(KernelProfile profile)
    {
        Assert.Equal("", Accepted(HostPresets.SapphireRapids, profile));
        var fresh = KvmState.Create(new Vm(HostPresets.SapphireRapids, profile), Policy.Lazy);
        Assert.Equal(Ok, Kvm.Step(Policy.Lazy, fresh, new VcpuEvent.SetSregs(AlwaysAllowed, Msr.ApicBaseDefault) { Cr0 = 0 }).Observation);
    }

    /// <summary>6.1's <c>kvm_set_cr4</c> also wants guest PCID to turn CR4.PCIDE on, which KVM_SET_SREGS does not check.</summary>
    [Fact]
    public void On_6_1_before_KVM_SET_CPUID2_KVM_SET_SREGS_may_set_PCIDE_but_a_guest_MOV_may_not_turn_it_on()
    {
        var fresh = KvmState.Create(new Vm(Skylake, KernelProfile.Linux6_1), Policy.Lazy);
        var longMode = new VcpuEvent.SetSregs(Cr4.Pae, Msr.ApicBaseDefault) { Cr0 = Cr0.Pe | Cr0.Et | Cr0.Pg, Efer = Efer.Lme | Efer.Lma };
        var s = Run(Policy.Lazy, fresh, longMode).State;
        Assert.Equal(new Observation.Fault(X86Exception.GP), Kvm.Step(Policy.Lazy, s, new VcpuEvent.MovToCr4(Cr4.Pae | Cr4.Pcide)).Observation);
        Assert.Equal(Ok, Kvm.Step(Policy.Lazy, s, longMode with { Cr4 = Cr4.Pae | Cr4.Pcide }).Observation);
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
