namespace CpuidFunctional.Core.Cpuid;

/// <summary>How table entries are found (a lookup rule is an input to both answering and materializing).</summary>
public enum LookupRule
{
    /// <summary>KVM's rule: the first entry in order whose function matches and whose index matches or is not significant.</summary>
    KvmOrderedFirstMatch,

    /// <summary>
    /// A deliberately wrong rule kept for the test suite: entries keyed by (function, index) as in a dictionary,
    /// the flag ignored and the last duplicate winning.
    /// </summary>
    KeyedByLeafSubleaf,
}

/// <summary>KVM's CPUID lookup and answer rules (<c>kvm_cpuid</c>, <c>get_out_of_range_cpuid_entry</c>).</summary>
public static class CpuidLookup
{
    /// <summary>CPUID.7.0:EBX bit 4, HLE.</summary>
    public const int HleBit = 4;

    /// <summary>CPUID.7.0:EBX bit 11, RTM.</summary>
    public const int RtmBit = 11;

    /// <summary>Position of the entry for (function, index) under a lookup rule, or -1.</summary>
    public static int IndexOf(CpuidTable table, uint function, uint index, LookupRule rule)
    {
        if (rule == LookupRule.KvmOrderedFirstMatch)
        {
            return table.IndexOf(function, index);
        }
        for (var i = table.Count - 1; i >= 0; i--)
        {
            var e = table[i];
            if (e.Function == function && e.Index == index)
            {
                return i;
            }
        }
        return -1;
    }

    /// <summary>Position of the first entry of a function whatever its index (KVM's "index not significant" lookup).</summary>
    public static int IndexOfFunction(CpuidTable table, uint function, LookupRule rule) =>
        rule == LookupRule.KvmOrderedFirstMatch ? table.IndexOfFunction(function) : IndexOf(table, function, 0, rule);

    /// <summary>
    /// Answers CPUID(function, index) from an already materialized table, as <c>kvm_cpuid()</c> does after its
    /// dirty check: exact lookup, the Intel out-of-range redirect, then the answer-time adjustments, which are
    /// never written back into the table.
    /// </summary>
    /// <param name="table">The (materialized) table.</param>
    /// <param name="function">EAX input.</param>
    /// <param name="index">ECX input.</param>
    /// <param name="tsxCtrl">The vCPU's IA32_TSX_CTRL, for RTM/HLE masking.</param>
    /// <param name="exactOnly">True for the emulator's vendor probes: no redirect.</param>
    /// <param name="rule">The lookup rule.</param>
    public static CpuidAnswer Answer(
        CpuidTable table,
        uint function,
        uint index,
        ulong tsxCtrl,
        bool exactOnly = false,
        LookupRule rule = LookupRule.KvmOrderedFirstMatch
    )
    {
        var position = IndexOf(table, function, index, rule);
        var exact = position >= 0;
        if (!exact && !exactOnly)
        {
            (position, function) = OutOfRange(table, function, index, rule);
        }
        if (position >= 0)
        {
            var e = table[position];
            var ebx = e.Ebx;
            // kvm_cpuid: TSX_CTRL.CPUID_CLEAR hides RTM and HLE in the answer only.
            if (function == 7 && index == 0 && (tsxCtrl & State.Msr.TsxCtrlCpuidClear) != 0)
            {
                ebx &= ~((1u << RtmBit) | (1u << HleBit));
            }
            return new CpuidAnswer(e.Eax, ebx, e.Ecx, e.Edx, exact);
        }
        // kvm_cpuid: leaves 0xB and 0x1F pass ECX[7:0] through and report the x2APIC ID from sub-leaf 1.
        if (function is 0xB or 0x1F)
        {
            var sub1 = IndexOf(table, function, 1, rule);
            if (sub1 >= 0)
            {
                return new CpuidAnswer(0, 0, index & 0xFF, table[sub1].Edx, exact);
            }
        }
        return new CpuidAnswer(0, 0, 0, 0, exact);
    }

    /// <summary>
    /// The leaf that gives the limit of <paramref name="function"/>'s class (<c>get_out_of_range_cpuid_entry</c>):
    /// 0 for basic leaves, 0x80000000 for extended, 0xC0000000 for Centaur, the 0x100-aligned base for hypervisor leaves.
    /// </summary>
    public static uint ClassBase(uint function) => function switch
    {
        >= 0x4000_0000 and <= 0x4FFF_FFFF => function & 0xFFFF_FF00,
        >= 0xC000_0000 => 0xC000_0000,
        _ => function & 0x8000_0000,
    };

    /// <summary>
    /// <c>get_out_of_range_cpuid_entry</c>: on Intel-vendor tables a leaf beyond its class's limit is answered
    /// from the max basic leaf with the original sub-leaf; AMD and Hygon tables answer zeros.
    /// </summary>
    /// <returns>The redirected entry's position (or -1) and the function the answer is keyed on.</returns>
    public static (int Position, uint Function) OutOfRange(CpuidTable table, uint function, uint index, LookupRule rule)
    {
        var basicPosition = IndexOfFunction(table, 0, rule);
        if (basicPosition < 0)
        {
            return (-1, function);
        }
        var basic = table[basicPosition];
        if (Vendor.IsAmdOrHygon(basic))
        {
            return (-1, function);
        }
        var classPosition = IndexOfFunction(table, ClassBase(function), rule);
        if (classPosition >= 0 && function <= table[classPosition].Eax)
        {
            return (-1, function);
        }
        return (IndexOf(table, basic.Eax, index, rule), basic.Eax);
    }
}
