namespace CpuidFunctional.Properties.Mutation;

/// <summary>
/// <c>kvm_cpuid</c>: IA32_TSX_CTRL.CPUID_CLEAR hides RTM (EBX bit 11) and HLE (EBX bit 4) in the answer to CPUID.7.0
/// only; every other leaf and sub-leaf, and 7.0 without the bit, answers the table's EBX.
/// </summary>
public class TsxCtrlAnswerTests
{
    private const uint RtmHle = (1u << CpuidLookup.RtmBit) | (1u << CpuidLookup.HleBit);
    private const uint OtherBits = 0x0000_0201;

    private static readonly CpuidTable Table = CpuidTable.Of(
        CpuidEntry.Plain(0, 0xD, Vendor.Intel.Ebx, Vendor.Intel.Ecx, Vendor.Intel.Edx),
        CpuidEntry.Plain(1, 0, RtmHle | OtherBits, 0, 0),
        CpuidEntry.Indexed(7, 0, 1, RtmHle | OtherBits, 0, 0),
        CpuidEntry.Indexed(7, 1, 0, RtmHle | OtherBits, 0, 0)
    );

    [Theory]
    [InlineData(7u, 0u, Msr.TsxCtrlCpuidClear, OtherBits)]
    [InlineData(7u, 0u, Msr.TsxCtrlCpuidClear | Msr.TsxCtrlRtmDisable, OtherBits)]
    [InlineData(7u, 0u, 0ul, RtmHle | OtherBits)]
    [InlineData(7u, 0u, Msr.TsxCtrlRtmDisable, RtmHle | OtherBits)]
    [InlineData(7u, 1u, Msr.TsxCtrlCpuidClear, RtmHle | OtherBits)]
    [InlineData(1u, 0u, Msr.TsxCtrlCpuidClear, RtmHle | OtherBits)]
    [InlineData(1u, 0u, 0ul, RtmHle | OtherBits)]
    [InlineData(1u, 1u, Msr.TsxCtrlCpuidClear, RtmHle | OtherBits)]
    public void CPUID_CLEAR_hides_RTM_and_HLE_in_leaf_7_subleaf_0_only(uint function, uint index, ulong tsxCtrl, uint ebx)
    {
        Assert.Equal(ebx, CpuidLookup.Answer(Table, function, index, tsxCtrl).Ebx);
    }

    /// <summary>
    /// Only kvm_intel's <c>vmx_get_msr</c>/<c>vmx_set_msr</c> handle IA32_TSX_CTRL. Under kvm_amd it is an MSR KVM does
    /// not know: the guest's RDMSR and WRMSR are #GP, and KVM_SET_MSRS and KVM_GET_MSRS stop at it.
    /// </summary>
    [Fact]
    public void On_an_AMD_host_IA32_TSX_CTRL_is_an_MSR_KVM_does_not_know()
    {
        var gp = new Observation.Fault(X86Exception.GP);
        KvmState Fresh(HostCpu host) =>
            Kvm.Step(Policy.Lazy, KvmState.WithCpuid(new Vm(host, KernelProfile.Linux6_18), Policy.Lazy, host.Cpuid), new VcpuEvent.Run()).State;
        Observation? Last(KvmState s, params VcpuEvent[] events) => events.Aggregate((s, (Observation?)null), (acc, e) =>
        {
            var t = Kvm.Step(Policy.Lazy, acc.Item1, e);
            return (t.State, t.Observation);
        }).Item2;
        var amd = Fresh(HostPresets.Genoa);
        var intel = Fresh(HostPresets.SapphireRapids);
        var setBoth = new VcpuEvent.SetMsrs(new([new MsrEntry(Msr.MiscFeaturesEnables, 0), new MsrEntry(Msr.TsxCtrl, Msr.TsxCtrlCpuidClear)]));
        var getBoth = new VcpuEvent.GetMsrs(new([Msr.MiscFeaturesEnables, Msr.TsxCtrl]));

        Assert.Equal(gp, Last(amd, new VcpuEvent.Wrmsr(Msr.TsxCtrl, 0)));
        Assert.Equal(gp, Last(amd, new VcpuEvent.Rdmsr(Msr.TsxCtrl)));
        Assert.Equal(new Observation.IoctlDone(1), Last(amd, setBoth));
        Assert.Equal(new Observation.Msrs(new([new MsrEntry(Msr.MiscFeaturesEnables, 0)])), Last(amd, getBoth));

        Assert.Null(Last(intel, new VcpuEvent.Wrmsr(Msr.TsxCtrl, Msr.TsxCtrlCpuidClear)));
        Assert.Equal(new Observation.IoctlDone(2), Last(intel, setBoth));
        Assert.Equal(new Observation.Msrs(new([new MsrEntry(Msr.MiscFeaturesEnables, 0), new MsrEntry(Msr.TsxCtrl, Msr.TsxCtrlCpuidClear)])), Last(intel, setBoth, getBoth));
    }

    /// <summary>
    /// An Intel host without IA32_ARCH_CAPABILITIES (CPUID.7.0:EDX[29] clear, as on the Skylake-SP preset) has no
    /// IA32_TSX_CTRL either: KVM has no user-return slot for it, so kvm_intel answers as for an MSR it does not know,
    /// and CPUID.7.0 keeps RTM and HLE.
    /// </summary>
    [Fact]
    public void An_Intel_host_without_IA32_ARCH_CAPABILITIES_has_no_IA32_TSX_CTRL()
    {
        var skylake = HostPresets.SkylakeSp;
        Assert.False(skylake.HasArchCapabilities);
        Assert.True(HostPresets.SapphireRapids.HasArchCapabilities && HostPresets.IcelakeSp.HasArchCapabilities);
        Assert.False(Kvm.HasTsxCtrl(skylake));
        var (_, o, _) = Kvm.Run(
            Policy.Eager,
            KvmState.WithCpuid(new Vm(skylake), Policy.Eager, skylake.Cpuid),
            [
                new VcpuEvent.Run(),
                new VcpuEvent.Wrmsr(Msr.TsxCtrl, Msr.TsxCtrlCpuidClear),
                new VcpuEvent.SetMsrs(new([new MsrEntry(Msr.MiscFeaturesEnables, 0), new MsrEntry(Msr.TsxCtrl, Msr.TsxCtrlCpuidClear)])),
                new VcpuEvent.GetMsrs(new([Msr.TsxCtrl])),
                new VcpuEvent.Cpuid(7, 0),
            ]
        );

        Assert.Equal(new Observation.Fault(X86Exception.GP), o[1]);
        Assert.Equal(new Observation.IoctlDone(1), o[2]);
        Assert.Equal(new Observation.Msrs(ValueArray<MsrEntry>.Empty), o[3]);
        Assert.Equal(RtmHle, Assert.IsType<Observation.CpuidResult>(o[4]).Ebx & RtmHle);
    }

    /// <summary>
    /// <c>vmx_vcpu_after_set_cpuid</c> sets IA32_TSX_CTRL from the guest's RTM on a host with RTM and TSX_CTRL: 0 if the
    /// table offers RTM, RTM_DISABLE if not. From 6.14 that also runs when the vCPU is created, with no table; 6.1 starts
    /// at 0. KVM_SET_CPUID2 after KVM_RUN only compares tables and leaves the MSR alone.
    /// </summary>
    [Theory]
    [InlineData(KernelProfile.Linux6_1, 0ul)]
    [InlineData(KernelProfile.Linux6_18, Msr.TsxCtrlRtmDisable)]
    public void KVM_SET_CPUID2_sets_IA32_TSX_CTRL_from_the_guests_RTM(KernelProfile profile, ulong atCreation)
    {
        var host = HostPresets.SapphireRapids;
        var noRtm = CpuidTable.Of(host.Cpuid.Entries.Select(e => e is { Function: 7, Index: 0 } ? e.WithBit(CpuidRegister.Ebx, CpuidLookup.RtmBit, false) : e));
        var get = new VcpuEvent.GetMsrs(new([Msr.TsxCtrl]));
        static Observation.Msrs Value(ulong v) => new(new([new MsrEntry(Msr.TsxCtrl, v)]));

        var (_, o, _) = Kvm.Run(
            Policy.Lazy,
            KvmState.Create(new Vm(host, profile), Policy.Lazy),
            [get, new VcpuEvent.SetCpuid2(host.Cpuid), get, new VcpuEvent.SetMsrs(new([new MsrEntry(Msr.TsxCtrl, Msr.TsxCtrlCpuidClear)])), new VcpuEvent.SetCpuid2(noRtm), get, new VcpuEvent.Run(), new VcpuEvent.SetCpuid2(noRtm), new VcpuEvent.SetMsrs(new([new MsrEntry(Msr.TsxCtrl, 0)])), new VcpuEvent.SetCpuid2(noRtm), get]
        );

        Assert.Equal(Value(atCreation), o[0]);
        Assert.Equal(Value(0), o[2]);
        Assert.Equal(Value(Msr.TsxCtrlRtmDisable), o[5]);
        Assert.Equal(new Observation.IoctlDone(0), o[9]);
        Assert.Equal(Value(0), o[10]);
    }

    /// <summary>
    /// From 6.13 a vCPU gets KVM's IA32_ARCH_CAPABILITIES only while KVM_X86_QUIRK_STUFF_FEATURE_MSRS is in effect when it
    /// is created; without TSX_CTRL_MSR there the guest's RDMSR and WRMSR of IA32_TSX_CTRL are #GP, while the host's
    /// KVM_GET_MSRS and KVM_SET_MSRS still reach it.
    /// </summary>
    [Fact]
    public void Without_STUFF_FEATURE_MSRS_at_creation_the_guest_cannot_reach_IA32_TSX_CTRL_but_the_host_can()
    {
        var host = HostPresets.SapphireRapids;
        var vm = new Vm(host, KernelProfile.Linux6_18, KvmQuirks.StuffFeatureMsrs);
        Assert.False(vm.TsxCtrlInArchCapabilitiesAtCreation);
        Assert.True(new Vm(host).TsxCtrlInArchCapabilitiesAtCreation);

        var (_, o, _) = Kvm.Run(
            Policy.Eager,
            KvmState.WithCpuid(vm, Policy.Eager, host.Cpuid),
            [
                new VcpuEvent.Run(),
                new VcpuEvent.Wrmsr(Msr.TsxCtrl, Msr.TsxCtrlCpuidClear),
                new VcpuEvent.Rdmsr(Msr.TsxCtrl),
                new VcpuEvent.SetMsrs(new([new MsrEntry(Msr.TsxCtrl, Msr.TsxCtrlCpuidClear)])),
                new VcpuEvent.GetMsrs(new([Msr.TsxCtrl])),
                new VcpuEvent.Cpuid(7, 0),
            ]
        );

        Assert.Equal(new Observation.Fault(X86Exception.GP), o[1]);
        Assert.Equal(new Observation.Fault(X86Exception.GP), o[2]);
        Assert.Equal(new Observation.IoctlDone(1), o[3]);
        Assert.Equal(new Observation.Msrs(new([new MsrEntry(Msr.TsxCtrl, Msr.TsxCtrlCpuidClear)])), o[4]);
        Assert.Equal(0u, Assert.IsType<Observation.CpuidResult>(o[5]).Ebx & RtmHle); // kvm_cpuid reads it as the host would
    }
}
