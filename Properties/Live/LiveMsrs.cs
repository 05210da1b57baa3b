namespace CpuidFunctional.Properties.Live;

/// <summary>The MSR lists of the live tests' KVM_SET_MSRS events.</summary>
internal static class LiveMsrs
{
    /// <summary>(index, value) pairs as KVM_SET_MSRS entries, in order.</summary>
    public static ValueArray<MsrEntry> Msrs(params (uint Index, ulong Value)[] entries) => new([.. entries.Select(e => new MsrEntry(e.Index, e.Value))]);
}
