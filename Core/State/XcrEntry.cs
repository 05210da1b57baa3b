using System.Globalization;

namespace CpuidFunctional.Core.State;

/// <summary>One entry of a KVM_SET_XCRS list (<c>struct kvm_xcr</c>: the XCR's number and its value; its reserved word is ignored by KVM and not modelled).</summary>
/// <param name="Xcr">The XCR's number (0 is XCR0, the only one KVM sets).</param>
/// <param name="Value">Value to write.</param>
public readonly record struct XcrEntry(uint Xcr, ulong Value)
{
    /// <inheritdoc/>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"xcr{Xcr}=0x{Value:x}");
}
