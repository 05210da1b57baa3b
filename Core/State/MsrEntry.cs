using System.Globalization;

namespace CpuidFunctional.Core.State;

/// <summary>One entry of a KVM_SET_MSRS list or a VMX MSR-load area: (index, value).</summary>
/// <param name="Index">MSR index.</param>
/// <param name="Value">Value to write.</param>
public readonly record struct MsrEntry(uint Index, ulong Value)
{
    /// <inheritdoc/>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"0x{Index:x}=0x{Value:x}");
}
