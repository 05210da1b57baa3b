using System.Collections.Immutable;
using CpuidFunctional.Core.Dynamic;
using static CpuidFunctional.Properties.Core.TestHosts;

namespace CpuidFunctional.Properties.Mutation;

/// <summary>
/// Absolute expectations for rules of <c>Kvm.Step</c> that every policy shares: what a guest RDMSR and WRMSR may do
/// that only the host may (<c>kvm_get_msr_common</c>, <c>kvm_set_msr_common</c> with <c>host_initiated</c>), and what
/// an I/O exit reports. The kvm shard's mutants of them (a guest access taken as host-initiated, an IN reporting the
/// event's data) survived every lock-step test.
/// </summary>
public class MsrAndExitRuleTests
{
    /// <summary>The Skylake guest table without XSAVES in 0xD.1:EAX, so IA32_XSS is not the guest's MSR.</summary>
    private static KvmState RunningWithoutXsaves(KernelProfile profile = KernelProfile.Linux6_18)
    {
        var table = WithoutXsaves(SkylakeGuest);
        return Kvm.Step(Policy.Lazy, KvmState.WithCpuid(Vm(profile), Policy.Lazy, table), new VcpuEvent.Run()).State;
    }

    [Fact]
    public void A_guest_RDMSR_of_IA32_XSS_without_XSAVES_is_a_GP_but_KVM_GET_MSRS_reads_it()
    {
        var s = RunningWithoutXsaves();
        Assert.Equal(new Observation.Fault(X86Exception.GP), Kvm.Step(Policy.Lazy, s, new VcpuEvent.Rdmsr(Msr.Xss)).Observation);
        var read = Kvm.Step(Policy.Lazy, s, new VcpuEvent.GetMsrs(ImmutableArray.Create(Msr.Xss))).Observation;
        Assert.Equal(new Observation.Msrs(ImmutableArray.Create(new MsrEntry(Msr.Xss, 0))), read);
    }

    [Fact]
    public void A_guest_WRMSR_that_flips_a_read_only_MISC_ENABLE_bit_is_a_GP_and_changes_nothing()
    {
        var s = Running(Policy.Lazy);
        var t = Kvm.Step(Policy.Lazy, s, new VcpuEvent.Wrmsr(Msr.MiscEnable, s.Vcpu.MiscEnable ^ Msr.MiscEnableBtsUnavailable));
        Assert.Equal(new Observation.Fault(X86Exception.GP), t.Observation);
        Assert.Equal(s.Vcpu.MiscEnable, t.State.Vcpu.MiscEnable);
    }

    [Theory]
    [InlineData(true, 0u)]
    [InlineData(false, 0x55u)]
    public void An_IN_exit_reports_no_data_and_an_OUT_exit_its_data(bool isIn, uint reported)
    {
        var t = Kvm.Step(Policy.Lazy, Running(Policy.Lazy), new VcpuEvent.PortIo(isIn, 0x80, 1, 0x55));
        Assert.Equal(new Observation.ExitIo(isIn, 0x80, 1, reported), t.Observation);
    }

    /// <summary>
    /// <c>nested_vmx_load_msr</c> writes with <c>kvm_set_msr</c>, as the guest: an IA32_XSS entry is refused without
    /// guest XSAVES even for 0, which a host-initiated write would accept (on 6.15, where the host needs no XSAVES).
    /// </summary>
    [Fact]
    public void A_VM_entry_MSR_load_of_IA32_XSS_is_a_guest_write_and_fails_without_XSAVES()
    {
        var s = RunningWithoutXsaves(KernelProfile.Linux6_15);
        var entry = Kvm.Step(Policy.Lazy, s, new VcpuEvent.NestedVmEntry(s.Vcpu.Cr4, ImmutableArray.Create(new MsrEntry(Msr.Xss, 0))));
        Assert.Equal(new Observation.VmEntryMsrLoadFailed(1), entry.Observation);
        Assert.Equal(new Observation.IoctlDone(1), Kvm.Step(Policy.Lazy, s, new VcpuEvent.SetMsrs(ImmutableArray.Create(new MsrEntry(Msr.Xss, 0)))).Observation);
    }

    /// <summary>
    /// <c>kvm_set_msr_common</c> takes only CPUID_FAULT in MSR_MISC_FEATURES_ENABLES, and <c>vmx_set_msr</c> only
    /// RTM_DISABLE and TSX_CPUID_CLEAR in IA32_TSX_CTRL: any other bit is a #GP, and nothing changes.
    /// </summary>
    [Theory]
    [InlineData(Msr.MiscFeaturesEnables, 1ul << 1)]
    [InlineData(Msr.TsxCtrl, 1ul << 2)]
    public void A_guest_write_of_a_reserved_bit_of_MISC_FEATURES_ENABLES_or_TSX_CTRL_is_a_GP(uint msr, ulong value)
    {
        // Sapphire Rapids has IA32_TSX_CTRL, so the #GP is the reserved bit's, not an unknown MSR's.
        var s = msr == Msr.TsxCtrl ? RunningWithCet(Policy.Lazy) : Running(Policy.Lazy);
        Assert.Null(Kvm.Step(Policy.Lazy, s, new VcpuEvent.Wrmsr(msr, 0)).Observation);
        var t = Kvm.Step(Policy.Lazy, s, new VcpuEvent.Wrmsr(msr, value));
        Assert.Equal(new Observation.Fault(X86Exception.GP), t.Observation);
        Assert.Equal(s, t.State);
    }

    /// <summary>
    /// <c>kvm_vcpu_ioctl_x86_set_xcrs</c>: EINVAL on a host without XSAVE, whatever the value, even for a list the
    /// host with XSAVE answers with 0 (no entries, or none for XCR0): the host's XSAVE is checked first.
    /// </summary>
    [Fact]
    public void KVM_SET_XCRS_is_EINVAL_on_a_host_without_XSAVE()
    {
        var table = CpuidTable.Of(SkylakeCpuid.Entries.Select(e => e.Function == 1 ? e.WithBit(CpuidRegister.Ecx, 26, false).WithBit(CpuidRegister.Ecx, 27, false) : e));
        var host = HostCpu.FromCpuid("skylake-sp without XSAVE", table);
        var s = KvmState.WithCpuid(new Vm(host), Policy.Lazy, table);
        VcpuEvent[] lists = [new VcpuEvent.SetXcrs(Xcr0.Fp), new VcpuEvent.SetXcrs(ValueArray<XcrEntry>.Empty), new VcpuEvent.SetXcrs(new ValueArray<XcrEntry>([new XcrEntry(1, 1)]))];
        foreach (var e in lists)
        {
            Assert.Equal(new Observation.IoctlError(Errno.EINVAL), Kvm.Step(Policy.Lazy, s, e).Observation);
        }
    }

    /// <summary>
    /// <c>kvm_apic_set_base</c> reserves the APIC-base bits from MAXPHYADDR to 63 (<c>rsvd_bits</c>, which is 0 when
    /// MAXPHYADDR is 64 or more): a table stating a MAXPHYADDR of 64 leaves bit 45 free, one stating 40 does not.
    /// </summary>
    [Theory]
    [InlineData(64, true)]
    [InlineData(40, false)]
    public void The_APIC_base_bits_at_and_above_MAXPHYADDR_are_reserved_and_none_are_from_64_on(int maxPhysAddr, bool accepted)
    {
        var table = CpuidTable.Of(SkylakeGuest.Entries.Select(e => e.Function == 0x8000_0008 ? e with { Eax = (e.Eax & ~0xFFu) | (uint)maxPhysAddr } : e));
        var s = Kvm.Step(Policy.Lazy, KvmState.WithCpuid(Vm(), Policy.Lazy, table), new VcpuEvent.Run()).State;
        var value = Msr.ApicBaseDefault | (1ul << 45);
        var t = Kvm.Step(Policy.Lazy, s, new VcpuEvent.Wrmsr(Msr.ApicBase, value));
        Assert.Equal(accepted ? value : Msr.ApicBaseDefault, t.State.Vcpu.ApicBase);
    }
}
