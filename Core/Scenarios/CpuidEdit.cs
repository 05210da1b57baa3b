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

    /// <summary>
    /// Add an entry the table lacks (a KVM PV leaf 0x4000_0000.., say): with a sub-leaf it has the significant-index
    /// flag, without one it has none; registers not given are 0.
    /// </summary>
    public sealed record Add(uint Leaf, uint? Subleaf, uint Eax, uint Ebx, uint Ecx, uint Edx) : CpuidEdit;

    /// <summary>Add <paramref name="Count"/> zero entries, leaves <paramref name="First"/>, First + 1, ... (tables past KVM_MAX_CPUID_ENTRIES).</summary>
    public sealed record Fill(uint First, uint Count) : CpuidEdit;

    /// <summary>Applies the edit; null when the entry to edit does not exist, or an entry to add already does.</summary>
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
            case Add(var leaf, var sub, var eax, var ebx, var ecx, var edx):
                return Has(table, leaf, sub) ? null
                    : table.Add(sub is { } s ? CpuidEntry.Indexed(leaf, s, eax, ebx, ecx, edx) : CpuidEntry.Plain(leaf, eax, ebx, ecx, edx));
            case Fill(var first, var count):
                {
                    var entries = Enumerable.Range(0, (int)count).Select(i => CpuidEntry.Plain(first + (uint)i, 0, 0, 0, 0)).ToArray();
                    return entries.Any(e => Has(table, e.Function, null)) ? null : CpuidTable.Of(table.Entries.AddRange(entries));
                }
            default:
                throw new System.Diagnostics.UnreachableException(GetType().Name);
        }
    }

    /// <summary>Whether the table has an entry of this leaf and sub-leaf (any entry of the leaf when no sub-leaf is given).</summary>
    private static bool Has(CpuidTable table, uint leaf, uint? sub) =>
        sub is { } s ? table.Entries.Any(e => e.Function == leaf && (e.Index == s || !e.HasSignificantIndex)) : table.IndexOfFunction(leaf) >= 0;

    private static CpuidTable? Edit(CpuidTable table, uint leaf, uint sub, Func<CpuidEntry, CpuidEntry> change)
    {
        var i = table.IndexOf(leaf, sub);
        return i < 0 ? null : table.SetItem(i, change(table[i]));
    }

    /// <summary>The (leaf, sub-leaf) in the scenario syntax.</summary>
    internal static string Key(uint leaf, uint sub) => string.Create(CultureInfo.InvariantCulture, $"0x{leaf:x}.{sub}");
}
