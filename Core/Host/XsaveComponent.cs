using System.Globalization;

namespace CpuidFunctional.Core.Host;

/// <summary>One XSAVE state component as the host enumerates it in CPUID.0xD.i (i ≥ 2).</summary>
/// <param name="Index">The component number i (its bit in XCR0 or IA32_XSS).</param>
/// <param name="Size">EAX: size in bytes.</param>
/// <param name="Offset">EBX: offset in the standard (non-compacted) format; 0 for supervisor components.</param>
/// <param name="Flags">ECX: bit 0 supervisor (managed through IA32_XSS), bit 1 64-byte aligned when compacted, bit 2 XFD.</param>
public readonly record struct XsaveComponent(int Index, uint Size, uint Offset, uint Flags)
{
    /// <summary>ECX bit 0: the component is enabled through IA32_XSS, not XCR0.</summary>
    public bool IsSupervisor => (Flags & 1) != 0;

    /// <summary>ECX bit 1: in the compacted format the component starts on a 64-byte boundary.</summary>
    public bool Align64 => (Flags & 2) != 0;

    /// <summary>Whether the host enumerates this component at all.</summary>
    public bool IsPresent => Size != 0;

    /// <inheritdoc/>
    public override string ToString() =>
        string.Create(
            CultureInfo.InvariantCulture,
            $"{Index,2}: size 0x{Size:x} offset 0x{Offset:x}{(IsSupervisor ? " supervisor" : "")}{(Align64 ? " align64" : "")}"
        );
}
