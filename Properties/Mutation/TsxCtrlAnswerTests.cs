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
        var intel = Fresh(HostPresets.SkylakeSp);
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
}
