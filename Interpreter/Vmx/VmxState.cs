using System.Collections.Immutable;

namespace CpuidFunctional.Interpreter.Vmx;

/// <summary>
/// L1's VMX state as L0 keeps it: whether L1 is in VMX operation, the VMXON pointer, the current-VMCS pointer and its
/// vmcs12 (KVM's cached copy), and the VMCS regions L1 has used as guest memory holds them (kept by address; only
/// VMPTRLD and VMCLEAR write that map, so the hot path never updates it). A value type; the vmcs12 versions it refers to are immutable objects.
/// </summary>
public readonly record struct VmxState
{
    /// <summary>The current-VMCS pointer value meaning "no current VMCS".</summary>
    public const ulong NoVmcs = ulong.MaxValue;

    /// <summary>Outside VMX operation.</summary>
    public static VmxState Off => new() { CurrentPointer = NoVmcs, Current = Vmcs12.Clear, Regions = ImmutableDictionary<ulong, Vmcs12>.Empty };

    /// <summary>L1 executed VMXON (and not VMXOFF).</summary>
    public bool On { get; init; }

    /// <summary>The VMXON region's address.</summary>
    public ulong VmxonPointer { get; init; }

    /// <summary>The current-VMCS pointer, or <see cref="NoVmcs"/>.</summary>
    public ulong CurrentPointer { get; init; }

    /// <summary>The current VMCS (meaningful only when <see cref="HasCurrent"/>; <see cref="Vmcs12.Clear"/> in a default value).</summary>
    public Vmcs12 Current
    {
        get => current ?? Vmcs12.Clear;
        init => current = value;
    }

    private readonly Vmcs12? current;

    /// <summary>
    /// The VMCS regions by address, as guest memory holds them: a region is written when its VMCS stops being current
    /// (VMCLEAR, VMPTRLD of another; KVM's <c>nested_release_vmcs12</c>), so while a VMCS is current its entry here is
    /// the copy VMPTRLD read, and <see cref="Current"/> is KVM's cached vmcs12.
    /// </summary>
    public ImmutableDictionary<ulong, Vmcs12> Regions { get; init; }

    /// <summary>Whether there is a current VMCS.</summary>
    public bool HasCurrent => CurrentPointer != NoVmcs;

    /// <summary>The VMCS at an address (current or not); a clear, all-zero VMCS if L1 never used it.</summary>
    public Vmcs12 At(ulong address) =>
        address == CurrentPointer ? Current : Regions.TryGetValue(address, out var v) ? v : Vmcs12.Clear;

    /// <summary>A field of the current VMCS.</summary>
    public ulong Read(uint encoding) => Current.Read(encoding);

    /// <inheritdoc/>
    public bool Equals(VmxState other) =>
        On == other.On
        && VmxonPointer == other.VmxonPointer
        && CurrentPointer == other.CurrentPointer
        && Current.Equals(other.Current)
        && Regions.Count == other.Regions.Count
        && Regions.All(kv => other.Regions.TryGetValue(kv.Key, out var v) && v.Equals(kv.Value));

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(On, VmxonPointer, CurrentPointer, Current);
}
