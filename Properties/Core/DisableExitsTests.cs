using static CpuidFunctional.Properties.Core.TestHosts;
using static CpuidFunctional.Properties.Live.LiveInputs;

namespace CpuidFunctional.Properties.Core;

/// <summary>
/// KVM_CAP_X86_DISABLE_EXITS and what it does to guest CPUID: KVM_FEATURE_PV_UNHALT cleared from KVM's features leaf
/// where HLT exits are disabled (kvm_pv_test's test_pv_unhalt; 6.1's runtime update). The live tests of the same
/// names check these against the machine's kernel and the TCG guest's 6.1.
/// </summary>
public class DisableExitsTests
{
    private static readonly Observation Ok0 = new Observation.IoctlDone(0);
    private static readonly Observation Einval = new Observation.IoctlError(Errno.EINVAL);

    private static bool PvUnhalt(CpuidTable t, uint kvmBase = PvFeatures.FirstBase) =>
        t.Find(kvmBase + 1, 0)!.Value.Has(CpuidRegister.Eax, PvFeatures.PvUnhaltBit);

    private static Vm HltVm(KernelProfile profile) =>
        DisableExits.Enable(Vm(profile), DisableExits.Hlt, vcpuCreated: false) ?? throw new InvalidOperationException("refused");

    private static CpuidTable Table(KvmState s) =>
        Assert.IsType<Observation.Cpuid2>(Kvm.Step(Policy.Eager, s, new VcpuEvent.GetCpuid2(256)).Observation).Table;

    [Theory]
    [InlineData(KernelProfile.Linux6_15)]
    [InlineData(KernelProfile.Linux6_18)]
    public void From_6_14_KVM_SET_CPUID2_clears_PV_UNHALT_at_once_in_a_VM_without_HLT_exits(KernelProfile profile)
    {
        var s = KvmState.WithCpuid(HltVm(profile), Policy.Eager, WithKvmLeaves(SkylakeGuest));
        Assert.False(PvUnhalt(Table(s)));
        var withHlt = KvmState.WithCpuid(Vm(profile), Policy.Eager, WithKvmLeaves(SkylakeGuest));
        Assert.True(PvUnhalt(Table(withHlt)));
    }

    [Fact]
    public void KVMs_leaves_are_found_at_any_base_that_carries_the_signature_and_not_where_it_is_clobbered()
    {
        var at100 = KvmState.WithCpuid(HltVm(KernelProfile.Linux6_18), Policy.Eager, WithKvmLeaves(SkylakeGuest, kvmBase: 0x4000_0100));
        Assert.False(PvUnhalt(Table(at100), 0x4000_0100));
        var clobbered = KvmState.WithCpuid(HltVm(KernelProfile.Linux6_18), Policy.Eager, WithKvmLeaves(SkylakeGuest, signed: false));
        Assert.True(PvUnhalt(Table(clobbered)));
        Assert.Null(PvFeatures.KvmCpuidBase(SkylakeGuest));
    }

    [Fact]
    public void The_last_base_KVM_tries_is_0x4000FF00_and_the_first_signed_base_wins()
    {
        Assert.Equal(0x4000_FF00u, PvFeatures.KvmCpuidBase(WithKvmLeaves(SkylakeGuest, kvmBase: 0x4000_FF00)));
        Assert.Null(PvFeatures.KvmCpuidBase(WithKvmLeaves(SkylakeGuest, kvmBase: 0x4001_0000)));
        var twoBases = WithKvmLeaves(WithKvmLeaves(SkylakeGuest, signed: false), kvmBase: 0x4000_0100);
        Assert.Equal(0x4000_0100u, PvFeatures.KvmCpuidBase(twoBases));
        var s = KvmState.WithCpuid(HltVm(KernelProfile.Linux6_18), Policy.Eager, twoBases);
        Assert.True(PvUnhalt(Table(s)));
        Assert.False(PvUnhalt(Table(s), 0x4000_0100));
    }

    [Fact]
    public void KVM_clears_PV_UNHALT_in_the_first_entry_of_the_features_leaf_whatever_its_index()
    {
        // kvm_find_cpuid_entry without a significant index: the first entry with the function, here one with index 1.
        var features = new CpuidEntry(0x4000_0001, 1, CpuidFlags.None, 0x80, 0, 0, 0);
        var second = new CpuidEntry(0x4000_0001, 0, CpuidFlags.None, 0x80, 0, 0, 0);
        var table = CpuidTable.Of(WithKvmLeaves(SkylakeGuest).Entries.Where(e => e.Function != 0x4000_0001)).Add(features).Add(second);
        var t = Table(KvmState.WithCpuid(HltVm(KernelProfile.Linux6_18), Policy.Eager, table));
        var entries = t.Entries.Where(e => e.Function == 0x4000_0001).ToArray();
        Assert.Equal([0u, 0x80u], entries.Select(e => e.Eax));
    }

    [Fact]
    public void On_6_1_the_first_table_keeps_PV_UNHALT_until_a_trigger_runs_the_runtime_update()
    {
        var s = KvmState.WithCpuid(HltVm(KernelProfile.Linux6_1), Policy.Eager, WithKvmLeaves(SkylakeGuest));
        Assert.True(PvUnhalt(Table(s)));
        var triggered = Kvm.Step(Policy.Eager, s, new VcpuEvent.MovToCr4(Cr4.OsXsave)).State;
        Assert.False(PvUnhalt(Table(triggered)));
        var lazy = KvmState.WithCpuid(HltVm(KernelProfile.Linux6_1), Policy.Lazy, WithKvmLeaves(SkylakeGuest));
        lazy = Kvm.Step(Policy.Lazy, lazy, new VcpuEvent.MovToCr4(Cr4.OsXsave)).State;
        Assert.False(PvUnhalt(Assert.IsType<Observation.Cpuid2>(Kvm.Step(Policy.Lazy, lazy, new VcpuEvent.GetCpuid2(256)).Observation).Table));
    }

    [Fact]
    public void On_6_1_KVM_SET_CPUID2_finds_the_features_leaf_at_the_base_of_the_table_it_replaces()
    {
        var s = KvmState.WithCpuid(HltVm(KernelProfile.Linux6_1), Policy.Eager, WithKvmLeaves(SkylakeGuest));
        // The second table's signature is clobbered, but the base cached from the first still finds its features leaf.
        s = Kvm.Step(Policy.Eager, s, new VcpuEvent.SetCpuid2(WithKvmLeaves(SkylakeGuest, signed: false))).State;
        Assert.False(PvUnhalt(Table(s)));
        // And the third, signed again, keeps the bit: the clobbered table left no base.
        s = Kvm.Step(Policy.Eager, s, new VcpuEvent.SetCpuid2(WithKvmLeaves(SkylakeGuest))).State;
        Assert.True(PvUnhalt(Table(s)));
    }

    [Theory]
    [InlineData(KernelProfile.Linux6_1, true)]
    [InlineData(KernelProfile.Linux6_15, false)]
    [InlineData(KernelProfile.Linux6_18, false)]
    public void Disabling_HLT_exits_with_a_vCPU_is_EINVAL_from_6_14_and_taken_by_6_1(KernelProfile profile, bool taken)
    {
        var s = KvmState.WithCpuid(Vm(profile), Policy.Eager, WithKvmLeaves(SkylakeGuest));
        var t = Kvm.Step(Policy.Eager, s, new VcpuEvent.DisableExits(DisableExits.Hlt));
        Assert.Equal(taken ? Ok0 : Einval, t.Observation);
        Assert.Equal(taken, t.State.Vm.HltInGuest);
    }

    [Theory]
    [InlineData(KernelProfile.Linux6_1, DisableExits.AperfMperf, false)]
    [InlineData(KernelProfile.Linux6_1, DisableExits.Mwait | DisableExits.Hlt, true)]
    [InlineData(KernelProfile.Linux6_18, DisableExits.Mwait | DisableExits.Hlt, true)]
    [InlineData(KernelProfile.Linux6_18, 1ul << 5, false)]
    public void Only_the_exits_the_profile_knows_and_the_host_allows_may_be_disabled(KernelProfile profile, ulong mask, bool taken) =>
        Assert.Equal(taken, DisableExits.Enable(Vm(profile), mask, vcpuCreated: false) is not null);

    [Fact]
    public void MWAIT_exits_stay_on_a_host_without_MWAIT_6_1_silently_and_6_18_with_EINVAL()
    {
        var table = CpuidTable.Of(SkylakeCpuid.Entries.Select(e => e.Function == 1 ? e.WithBit(CpuidRegister.Ecx, 3, false) : e));
        var host = HostCpu.FromCpuid("skylake-sp without MWAIT", table);
        Assert.Equal(DisableExits.Pause | DisableExits.Hlt | DisableExits.Cstate, DisableExits.Allowed(host, KernelProfile.Linux6_15));
        // 6.18 adds APERFMPERF where the host has it (Skylake-SP: CPUID.6:ECX[0]).
        Assert.Equal(DisableExits.Pause | DisableExits.Hlt | DisableExits.Cstate | DisableExits.AperfMperf, DisableExits.Allowed(host, KernelProfile.Linux6_18));
        Assert.Null(DisableExits.Enable(new Vm(host, KernelProfile.Linux6_18), DisableExits.Mwait, vcpuCreated: false));
        Assert.Equal(DisableExits.Hlt, DisableExits.Enable(new Vm(host, KernelProfile.Linux6_1), DisableExits.Mwait | DisableExits.Hlt, vcpuCreated: false)!.DisabledExits);
    }
}
