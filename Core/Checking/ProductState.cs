using System.Collections.Immutable;
using CpuidFunctional.Core.Model;

namespace CpuidFunctional.Core.Checking;

/// <summary>
/// The states of several policies run in lock-step on the same events (one per policy of the
/// <see cref="CheckConfiguration"/>), compared by value. The hash reads only the scalar inputs and the marker,
/// which is cheap; equality then compares everything, tables included.
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
        }
        return hash.ToHashCode();
    }

    /// <summary>The states as an immutable array.</summary>
    public ImmutableArray<KvmState> Items => States.Items;

    /// <inheritdoc/>
    public override string ToString() => string.Join(" | ", States.Items.Select(s => s.Vcpu.ToString()));
}
