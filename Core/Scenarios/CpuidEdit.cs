using System.Globalization;
using CpuidFunctional.Core.Cpuid;

namespace CpuidFunctional.Core.Scenarios;

/// <summary>An edit of the guest CPUID table a scenario builds before KVM_SET_CPUID2. A closed union.</summary>
public abstract record CpuidEdit
{
    private CpuidEdit() { }

    /// <summary>Start again from the host's table.</summary>
    public sealed record FromHost : CpuidEdit;

    /// <summary>Remove every entry of a leaf, or only the entry of one sub-leaf.</summary>
    public sealed record Drop(uint Leaf, uint? Subleaf) : CpuidEdit;

    /// <summary>Set one register of the entry KVM's lookup finds for (leaf, sub-leaf).</summary>
    public sealed record SetRegister(uint Leaf, uint Subleaf, CpuidRegister Register, uint Value) : CpuidEdit;

    /// <summary>Set or clear one bit of one register of the entry for (leaf, sub-leaf).</summary>
    public sealed record SetBit(uint Leaf, uint Subleaf, CpuidRegister Register, int Bit, bool Value) : CpuidEdit;

    /// <summary>Clear the significant-index flag of the entry for (leaf, sub-leaf).</summary>
    public sealed record ClearSignificantIndex(uint Leaf, uint Subleaf) : CpuidEdit;

    /// <summary>Applies the edit; null when the entry to edit does not exist.</summary>
    public CpuidTable? Apply(CpuidTable host, CpuidTable table)
    {
        switch (this)
        {
            case FromHost:
                return host;
            case Drop(var leaf, var sub):
                return table.RemoveAll(e => e.Function == leaf && (sub is not { } s || e.Index == s));
            case SetRegister(var leaf, var sub, var register, var value):
                return Edit(table, leaf, sub, e => e.With(register, value));
            case SetBit(var leaf, var sub, var register, var bit, var value):
                return Edit(table, leaf, sub, e => e.WithBit(register, bit, value));
            case ClearSignificantIndex(var leaf, var sub):
                return Edit(table, leaf, sub, e => e with { Flags = e.Flags & ~CpuidFlags.SignificantIndex });
            default:
                throw new System.Diagnostics.UnreachableException(GetType().Name);
        }
    }

    private static CpuidTable? Edit(CpuidTable table, uint leaf, uint sub, Func<CpuidEntry, CpuidEntry> change)
    {
        var i = table.IndexOf(leaf, sub);
        return i < 0 ? null : table.SetItem(i, change(table[i]));
    }

    /// <summary>The (leaf, sub-leaf) in the scenario syntax.</summary>
    internal static string Key(uint leaf, uint sub) => string.Create(CultureInfo.InvariantCulture, $"0x{leaf:x}.{sub}");
}
