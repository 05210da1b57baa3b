using System.Collections.Immutable;
using CpuidFunctional.Core.Model;

namespace CpuidFunctional.Core.Checking;

/// <summary>
/// The states of several policies run in lock-step on the same events (one per policy of the
/// <see cref="CheckConfiguration"/>), compared by value. The hash reads the scalar inputs, the marker and the
/// table's two XSAVE sizes, which is cheap; equality then compares everything, tables included.
/// </summary>
/// <param name="States">One state per policy, in the configuration's order.</param>
public readonly record struct ProductState(ValueArray<KvmState> States)
{
    /// <inheritdoc/>
    public bool Equals(ProductState other)
    {
        var a = States.Items.AsSpan();
        var b = other.States.Items.AsSpan();
        if (a.Length != b.Length)
        {
            return false;
        }
        for (var i = 0; i < a.Length; i++)
        {
            if (!ReferenceEquals(a[i].Vcpu, b[i].Vcpu) && !a[i].Vcpu.Equals(b[i].Vcpu))
            {
                return false;
            }
            if (!ReferenceEquals(a[i].Vm, b[i].Vm) && !a[i].Vm.Equals(b[i].Vm))
            {
                return false;
            }
        }
        return true;
    }

    /// <inheritdoc/>
    /// <remarks>
    /// The XSAVE sizes go in too: Lazy's states that differ only in a stale size would otherwise share a hash, and the
    /// visited set would call <see cref="Equals(ProductState)"/> along long probe runs (skylake-sp 6.18: 15.5 million
    /// calls without them, 5.9 million with them, 3.2 million of which find an equal state).
    /// </remarks>
    public override int GetHashCode()
    {
        var hash = new HashCode();
        foreach (var (vm, v) in States.Items)
        {
            hash.Add(v.Cr4);
            hash.Add(v.Xcr0);
            hash.Add(v.Xss);
            hash.Add(v.ApicBase);
            hash.Add(v.MiscEnable);
            hash.Add(v.GuestMode);
            hash.Add(v.CpuidDynamicBitsDirty);
            hash.Add(v.Caps);
            hash.Add(v.InSmm);
            hash.Add(vm.DisabledQuirks);
            hash.Add(XsaveSizes(v.Cpuid));
        }
        return hash.ToHashCode();
    }

    /// <summary>EBX of 0xD.0 and 0xD.1 (the two XSAVE sizes), a function of the table's content.</summary>
    private static ulong XsaveSizes(Cpuid.CpuidTable table)
    {
        var d0 = table.IndexOf(0xD, 0);
        var d1 = table.IndexOf(0xD, 1);
        return (d0 < 0 ? 0 : (ulong)table[d0].Ebx) | (d1 < 0 ? 0 : (ulong)table[d1].Ebx << 32);
    }

    /// <summary>The states as an immutable array.</summary>
    public ImmutableArray<KvmState> Items => States.Items;

    /// <inheritdoc/>
    public override string ToString() => string.Join(" | ", States.Items.Select(s => s.Vcpu.ToString()));
}
