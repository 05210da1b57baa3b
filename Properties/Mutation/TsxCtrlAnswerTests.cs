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
}
