namespace CpuidFunctional.Core.State;

/// <summary>CR4 bits the model uses.</summary>
public static class Cr4
{
    /// <summary>CR4.PAE (bit 5).</summary>
    public const ulong Pae = 1ul << 5;

    /// <summary>CR4.OSFXSR (bit 9).</summary>
    public const ulong OsFxsr = 1ul << 9;

    /// <summary>CR4.OSXMMEXCPT (bit 10).</summary>
    public const ulong OsXmmExcpt = 1ul << 10;

    /// <summary>CR4.UMIP (bit 11).</summary>
    public const ulong Umip = 1ul << 11;

    /// <summary>CR4.LA57 (bit 12).</summary>
    public const ulong La57 = 1ul << 12;

    /// <summary>CR4.VMXE (bit 13).</summary>
    public const ulong Vmxe = 1ul << 13;

    /// <summary>CR4.FSGSBASE (bit 16).</summary>
    public const ulong FsGsBase = 1ul << 16;

    /// <summary>CR4.PCIDE (bit 17).</summary>
    public const ulong Pcide = 1ul << 17;

    /// <summary>CR4.OSXSAVE (bit 18): input of CPUID.1:ECX.OSXSAVE.</summary>
    public const ulong OsXsave = 1ul << 18;

    /// <summary>CR4.SMEP (bit 20).</summary>
    public const ulong Smep = 1ul << 20;

    /// <summary>CR4.SMAP (bit 21).</summary>
    public const ulong Smap = 1ul << 21;

    /// <summary>CR4.PKE (bit 22): input of CPUID.7.0:ECX.OSPKE.</summary>
    public const ulong Pke = 1ul << 22;

    /// <summary>CR4.CET (bit 23).</summary>
    public const ulong Cet = 1ul << 23;

    /// <summary>CR4.PKS (bit 24): not in KVM's <c>CR4_RESERVED_BITS</c> allow-list in any modelled kernel.</summary>
    public const ulong Pks = 1ul << 24;

    /// <summary>CR4.LAM_SUP (bit 28).</summary>
    public const ulong LamSup = 1ul << 28;

    /// <summary>CR4.SMXE (bit 14): KVM does not virtualize SMX, so no modelled kernel lets it be set.</summary>
    public const ulong Smxe = 1ul << 14;

    /// <summary>The two bits whose changes are dynamic-CPUID triggers (<c>vmx_set_cr4</c>, <c>svm_set_cr4</c>).</summary>
    public const ulong DynamicBits = OsXsave | Pke;

    /// <summary>
    /// Bits KVM's <c>CR4_RESERVED_BITS</c> leaves writable before feature checks (6.18): 0–13, 16–18, 20–23
    /// and 28 (LAM_SUP); SMXE (14) and PKS (24) are reserved. 6.15 reserves CET too, 6.1 CET and LAM_SUP
    /// (<see cref="Model.KernelProfiles.AlwaysReservedCr4"/>).
    /// </summary>
    public const ulong Architectural = 0x3FFFul | 0x7_0000ul | 0xF0_0000ul | LamSup;

    /// <summary>
    /// Bits 63:32. No kernel this model describes lets one into a vCPU: they are outside every profile's
    /// <see cref="Architectural"/> bits (<c>CR4_RESERVED_BITS</c>), and the nested consistency checks refuse them
    /// before a nested transition loads CR4. So <see cref="Vcpu"/> keeps CR4's low half only. CR4.FRED (bit 32) would
    /// be the first bit to change that: a profile that allows it needs a 64-bit CR4 in <see cref="Vcpu"/> again.
    /// </summary>
    public const ulong UpperHalf = 0xFFFF_FFFF_0000_0000ul;
}
