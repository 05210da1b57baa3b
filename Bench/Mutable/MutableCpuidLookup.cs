namespace CpuidFunctional.Bench.Mutable;

/// <summary>
/// KVM's lookup rules over a plain array of entries (<c>cpuid_entry2_find</c>, <c>get_out_of_range_cpuid_entry</c>,
/// <c>kvm_cpuid</c>), written the way the C walks <c>vcpu->arch.cpuid_entries</c>: no table object, no allocation.
/// A second copy of <see cref="CpuidLookup"/>'s walk on purpose (the baseline keeps its table as an array rewritten in
/// place); the rules it does not walk (entry matching, leaf classes, the TSX_CTRL mask) are Core's.
/// </summary>
internal static class MutableCpuidLookup
{
    /// <summary>First entry matching (function, index) by KVM's rule, or -1.</summary>
    public static int IndexOf(ReadOnlySpan<CpuidEntry> entries, uint function, uint index)
    {
        for (var i = 0; i < entries.Length; i++)
        {
            if (entries[i].Matches(function, index))
            {
                return i;
            }
        }
        return -1;
    }

    /// <summary>First entry of a function whatever its index (<c>KVM_CPUID_INDEX_NOT_SIGNIFICANT</c>), or -1.</summary>
    public static int IndexOfFunction(ReadOnlySpan<CpuidEntry> entries, uint function)
    {
        for (var i = 0; i < entries.Length; i++)
        {
            if (entries[i].Function == function)
            {
                return i;
            }
        }
        return -1;
    }

    /// <summary><c>kvm_cpuid</c> after its dirty check: exact lookup, Intel out-of-range redirect, answer-time masking.</summary>
    public static void Answer(ReadOnlySpan<CpuidEntry> entries, uint function, uint index, ulong tsxCtrl, out uint eax, out uint ebx, out uint ecx, out uint edx)
    {
        var position = IndexOf(entries, function, index);
        if (position < 0)
        {
            // get_out_of_range_cpuid_entry: Intel-vendor tables answer from the max basic leaf, original sub-leaf.
            var basic = IndexOfFunction(entries, 0);
            if (basic >= 0 && !Vendor.IsAmdOrHygon(entries[basic]))
            {
                var classPosition = IndexOfFunction(entries, CpuidLookup.ClassBase(function));
                if (classPosition < 0 || function > entries[classPosition].Eax)
                {
                    function = entries[basic].Eax;
                    position = IndexOf(entries, function, index);
                }
            }
        }
        if (position >= 0)
        {
            ref readonly var e = ref entries[position];
            eax = e.Eax;
            ebx = e.Ebx;
            ecx = e.Ecx;
            edx = e.Edx;
            if (function == 7 && index == 0 && (tsxCtrl & Msr.TsxCtrlCpuidClear) != 0)
            {
                ebx &= ~((1u << CpuidLookup.RtmBit) | (1u << CpuidLookup.HleBit)); // hidden in the answer only
            }
            return;
        }
        eax = ebx = ecx = edx = 0;
        if (function is 0xB or 0x1F)
        {
            var sub1 = IndexOf(entries, function, 1);
            if (sub1 >= 0)
            {
                ecx = index & 0xFF;
                edx = entries[sub1].Edx;
            }
        }
    }
}
