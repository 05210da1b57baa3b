using CpuidFunctional.Core.Dynamic;
using static CpuidFunctional.Properties.Core.TestHosts;

namespace CpuidFunctional.Properties.Core;

/// <summary>
/// AMX tile data is the one XSAVE feature a process must ask the kernel for before it may give it to a guest
/// (<c>arch_prctl(ARCH_REQ_XCOMP_GUEST_PERM)</c>, what the selftest amx_test does first). <see cref="Vm.XcompGuestPermRequested"/>
/// says whether the VM's process asked: KVM_GET_SUPPORTED_CPUID hides AMX without it (<c>kvm_get_filtered_xcr0</c>),
/// and KVM_SET_CPUID2 refuses a table offering XTILEDATA (<c>kvm_check_cpuid</c>, <c>fpu_enable_guest_xfd_features</c>).
/// </summary>
public class XcompGuestPermTests
{
    private static readonly HostCpu SapphireRapids = HostPresets.SapphireRapids;

    private static Vm Vm(HostCpu host, KernelProfile profile, bool requested) => new(host, profile) { XcompGuestPermRequested = requested };

    /// <summary>A whole register of KVM_GET_SUPPORTED_CPUID's 0xD entry (the model knows every bit of those).</summary>
    private static uint Supported(Vm vm, uint subleaf, CpuidRegister register)
    {
        var known = SupportedCpuid.Answer(vm, 0xD, subleaf, register);
        Assert.Equal(uint.MaxValue, known.Mask);
        return known.Value;
    }

    [Fact]
    public void A_VM_offers_AMX_by_default_as_after_the_permission_request()
    {
        var vm = new Vm(SapphireRapids);

        Assert.True(vm.XcompGuestPermRequested);
        Assert.True(SupportedCpuid.GuestMayUseXtileData(vm));
        Assert.Equal(0x602E7ul, SupportedCpuid.PermittedXcr0(vm));
        Assert.Equal(0x602E7u, Supported(vm, 0, CpuidRegister.Eax));
        Assert.Equal(0x2B00u, Supported(vm, 0, CpuidRegister.Ebx)); // XTILEDATA ends at 0xB00 + 0x2000
    }

    [Fact]
    public void Without_the_request_6_18_hides_both_AMX_components_from_KVM_GET_SUPPORTED_CPUID()
    {
        var vm = Vm(SapphireRapids, KernelProfile.Linux6_18, requested: false);

        Assert.False(SupportedCpuid.GuestMayUseXtileData(vm));
        Assert.Equal(0x2E7u, Supported(vm, 0, CpuidRegister.Eax));
        Assert.Equal(0xA88u, Supported(vm, 0, CpuidRegister.Ebx)); // PKRU ends at 0xA80 + 8
        Assert.Equal(0xA88u, Supported(vm, 0, CpuidRegister.Ecx));
        Assert.Equal(SapphireRapids.Xsave.RequiredSize(0x2E7 | Xss.CetAll, compacted: true), Supported(vm, 1, CpuidRegister.Ebx));
    }

    [Fact]
    public void Without_the_request_6_1_still_reports_XTILECFG_and_its_size()
    {
        // 6.1 masks the supported XCR0 with the process's permissions only; the later filter of XTILECFG is not there.
        var vm = Vm(SapphireRapids, KernelProfile.Linux6_1, requested: false);

        Assert.Equal(0x202E7u, Supported(vm, 0, CpuidRegister.Eax));
        Assert.Equal(0xB00u, Supported(vm, 0, CpuidRegister.Ebx)); // XTILECFG ends at 0xAC0 + 0x40
    }

    [Theory]
    [InlineData(KernelProfile.Linux6_1)]
    [InlineData(KernelProfile.Linux6_18)]
    public void Without_the_request_KVM_SET_CPUID2_of_a_table_offering_AMX_is_EPERM_and_installs_nothing(KernelProfile profile)
    {
        foreach (var policy in Policy.Correct)
        {
            var fresh = KvmState.Create(Vm(SapphireRapids, profile, requested: false), policy);

            var t = Kvm.Step(policy, fresh, new VcpuEvent.SetCpuid2(CetGuest));

            Assert.Equal(new Observation.IoctlError(Errno.EPERM), t.Observation);
            Assert.Equal(0, t.State.Vcpu.Cpuid.Count);
            Assert.Equal(0ul, GuestCpuCaps.SupportedXcr0(t.State.Vcpu));
        }
    }

    [Fact]
    public void With_the_request_the_same_table_is_installed_and_the_guest_may_load_AMX()
    {
        var policy = Policy.Lazy;
        var s = Kvm.Step(policy, KvmState.Create(Vm(SapphireRapids, KernelProfile.Linux6_18, requested: true), policy), new VcpuEvent.SetCpuid2(CetGuest));
        Assert.Equal(new Observation.IoctlDone(0), s.Observation);

        var (_, o) = Run(policy, s.State, new VcpuEvent.Run(), new VcpuEvent.MovToCr4(Cr4.OsXsave), new VcpuEvent.Xsetbv(0, 0x602E7), new VcpuEvent.Cpuid(0xD, 0));

        Assert.Null(o[2]);
        Assert.Equal(0x2B00u, Assert.IsType<Observation.CpuidResult>(o[3]).Ebx);
    }

    [Fact]
    public void XTILECFG_alone_is_no_dynamic_feature_so_the_table_is_installed_but_the_guest_cannot_load_it()
    {
        // What a 6.1 VMM gets by copying KVM_GET_SUPPORTED_CPUID without the request: XTILECFG in 0xD.0, no XTILEDATA.
        var policy = Policy.Lazy;
        var table = CpuidTable.Of(CetGuest.Entries.Select(e => e is { Function: 0xD, Index: 0 } ? e with { Eax = e.Eax & ~(uint)Xcr0.XtileData } : e));
        var s = Kvm.Step(policy, KvmState.Create(Vm(SapphireRapids, KernelProfile.Linux6_1, requested: false), policy), new VcpuEvent.SetCpuid2(table));
        Assert.Equal(new Observation.IoctlDone(0), s.Observation);

        var (_, o) = Run(policy, s.State, new VcpuEvent.Run(), new VcpuEvent.MovToCr4(Cr4.OsXsave), new VcpuEvent.Xsetbv(0, 0x202E7), new VcpuEvent.Xsetbv(0, 0x602E7));

        Assert.Equal(new Observation.Fault(X86Exception.GP), o[2]); // XTILECFG without XTILEDATA
        Assert.Equal(new Observation.Fault(X86Exception.GP), o[3]); // XTILEDATA is not the guest's
    }

    [Fact]
    public void On_a_host_without_AMX_a_table_offering_XTILEDATA_is_EPERM_even_after_the_request()
    {
        // The request itself fails on such a host, so the permission never includes XTILEDATA.
        var vm = new Vm(Skylake);
        var table = CpuidTable.Of(SkylakeGuest.Entries.Select(e => e is { Function: 0xD, Index: 0 } ? e with { Eax = e.Eax | (uint)Xcr0.XtileData } : e));

        Assert.False(SupportedCpuid.GuestMayUseXtileData(vm));
        Assert.Equal(new Observation.IoctlError(Errno.EPERM), Kvm.Step(Policy.Eager, KvmState.Create(vm, Policy.Eager), new VcpuEvent.SetCpuid2(table)).Observation);
        Assert.False(Kvm.GuestXfdFeaturesPermitted(vm, table));
        Assert.True(Kvm.GuestXfdFeaturesPermitted(vm, SkylakeGuest));
        Assert.True(Kvm.GuestXfdFeaturesPermitted(vm, CpuidTable.Empty));
    }

    [Fact]
    public void The_address_width_check_comes_first_so_a_table_failing_both_is_EINVAL()
    {
        var vm = Vm(SapphireRapids, KernelProfile.Linux6_18, requested: false);
        var table = CpuidTable.Of(CetGuest.Entries.Select(e => e.Function == 0x8000_0008 ? e with { Eax = (e.Eax & ~0xFF00u) | (40u << 8) } : e));

        var t = Kvm.Step(Policy.Lazy, KvmState.Create(vm, Policy.Lazy), new VcpuEvent.SetCpuid2(table));

        Assert.Equal(new Observation.IoctlError(Errno.EINVAL), t.Observation);
    }

    [Fact]
    public void After_KVM_RUN_an_equal_table_is_accepted_without_asking_again()
    {
        // kvm_cpuid_check_equal replaces kvm_check_cpuid once the vCPU has run: the permission is not looked at again.
        var policy = Policy.Eager;
        var s = KvmState.WithCpuid(new Vm(SapphireRapids), policy, CetGuest);
        s = Kvm.Step(policy, s, new VcpuEvent.Run()).State;
        var stricter = s with { Vm = s.Vm with { XcompGuestPermRequested = false } };

        Assert.Equal(new Observation.IoctlDone(0), Kvm.Step(policy, stricter, new VcpuEvent.SetCpuid2(CetGuest)).Observation);
    }

    [Fact]
    public void The_guest_supported_XCR0_is_limited_to_KVMs_supported_XCR0_not_to_the_hosts_CPUID()
    {
        // An AMD host whose CPUID lists the MPX pair: kvm_amd leaves it out of kvm_caps.supported_xcr0, so a guest table
        // offering it still does not let the guest load it (cpuid_get_supported_xcr0).
        var genoa = HostPresets.Genoa;
        var cpuid = CpuidTable.Of(
            genoa.Cpuid.Entries
                .Select(e => e is { Function: 0xD, Index: 0 } ? e with { Eax = e.Eax | (uint)(Xcr0.Bndregs | Xcr0.Bndcsr) } : e)
                .Concat([new CpuidEntry(0xD, 3, CpuidFlags.SignificantIndex, 64, 960, 0, 0), new CpuidEntry(0xD, 4, CpuidFlags.SignificantIndex, 64, 1024, 0, 0)])
        );
        var host = HostCpu.FromCpuid("genoa with MPX", cpuid);
        var guest = CpuidTable.Of(cpuid.Entries.Select(e => e.Function == 1 ? e.WithBit(CpuidRegister.Ecx, 27, false) : e));
        Assert.Equal(Xcr0.Bndregs | Xcr0.Bndcsr, host.SupportedXcr0 & (Xcr0.Bndregs | Xcr0.Bndcsr));

        foreach (var policy in Policy.Correct)
        {
            var s = KvmState.WithCpuid(new Vm(host), policy, guest);
            var (_, o) = Run(policy, s, new VcpuEvent.Run(), new VcpuEvent.MovToCr4(Cr4.OsXsave), new VcpuEvent.Xsetbv(0, 0x1F), new VcpuEvent.Xsetbv(0, 0x7));

            Assert.Equal(new Observation.Fault(X86Exception.GP), o[2]);
            Assert.Null(o[3]);
        }
    }
}
