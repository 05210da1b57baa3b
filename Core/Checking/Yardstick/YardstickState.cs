using System.Globalization;

namespace CpuidFunctional.Core.Checking.Yardstick;

/// <summary>
/// A state of the yardstick abstraction packed into 32 bits: bits 0–15 the architectural and KVM state, 16–23 the
/// lazy vCPU's table, 24–31 the eager vCPU's table. Equality is integer equality and the hash is the packed value
/// itself (the explorer mixes it), so a transition allocates nothing.
/// </summary>
/// <param name="Bits">The packed state.</param>
public readonly record struct YardstickState(uint Bits)
{
    /// <summary>CR4.OSXSAVE of the current level.</summary>
    public const uint Cr4OsXsave = 1u << 0;

    /// <summary>CR4.PKE of the current level.</summary>
    public const uint Cr4Pke = 1u << 1;

    /// <summary>First bit of the XCR0 mask index (4 bits).</summary>
    public const int Xcr0Shift = 2;

    /// <summary>IA32_XSS is 0x100.</summary>
    public const uint Xss = 1u << 6;

    /// <summary>IA32_APIC_BASE.EN.</summary>
    public const uint ApicEnable = 1u << 7;

    /// <summary>IA32_MISC_ENABLE.MWAIT.</summary>
    public const uint MiscMwait = 1u << 8;

    /// <summary>The MISC_ENABLE_NO_MWAIT quirk is disabled.</summary>
    public const uint QuirkDisabled = 1u << 9;

    /// <summary>L2 is running.</summary>
    public const uint L2 = 1u << 10;

    /// <summary>vmcs12 GUEST_CR4.OSXSAVE.</summary>
    public const uint GuestOsXsave = 1u << 11;

    /// <summary>vmcs12 GUEST_CR4.PKE.</summary>
    public const uint GuestPke = 1u << 12;

    /// <summary>vmcs12 HOST_CR4.OSXSAVE.</summary>
    public const uint HostOsXsave = 1u << 13;

    /// <summary>vmcs12 HOST_CR4.PKE.</summary>
    public const uint HostPke = 1u << 14;

    /// <summary>The lazy vCPU's marker (<c>cpuid_dynamic_bits_dirty</c>).</summary>
    public const uint Dirty = 1u << 15;

    /// <summary>First bit of the lazy table byte.</summary>
    public const int LazyShift = 16;

    /// <summary>First bit of the eager table byte.</summary>
    public const int EagerShift = 24;

    /// <summary>Table byte: CPUID.1:ECX.OSXSAVE.</summary>
    public const uint TableOsXsave = 1u << 0;

    /// <summary>Table byte: CPUID.7.0:ECX.OSPKE.</summary>
    public const uint TableOsPke = 1u << 1;

    /// <summary>Table byte: CPUID.1:EDX.APIC.</summary>
    public const uint TableApic = 1u << 2;

    /// <summary>Table byte: CPUID.1:ECX.MWAIT.</summary>
    public const uint TableMwait = 1u << 3;

    /// <summary>Table byte: first bit of the size class (4 bits) giving 0xD.0:EBX and 0xD.1:EBX.</summary>
    public const int TableSizeShift = 4;

    /// <summary>Whether a flag bit is set.</summary>
    public bool Has(uint flag) => (Bits & flag) != 0;

    /// <summary>The XCR0 mask index.</summary>
    public int Xcr0Index => (int)(Bits >> Xcr0Shift) & 0xF;

    /// <summary>The lazy table byte.</summary>
    public uint LazyTable => (Bits >> LazyShift) & 0xFF;

    /// <summary>The eager table byte.</summary>
    public uint EagerTable => (Bits >> EagerShift) & 0xFF;

    /// <inheritdoc/>
    public override int GetHashCode() => (int)Bits;

    /// <inheritdoc/>
    public override string ToString() =>
        string.Create(
            CultureInfo.InvariantCulture,
            $"{(Has(L2) ? "L2" : "L1")} cr4[osx={B(Cr4OsXsave)} pke={B(Cr4Pke)}] xcr0#{Xcr0Index} xss={(Has(Xss) ? "0x100" : "0")} "
                + $"apic={B(ApicEnable)} mwait={B(MiscMwait)} quirkOff={B(QuirkDisabled)} dirty={B(Dirty)} "
                + $"vmcs12[g={B(GuestOsXsave)}{B(GuestPke)} h={B(HostOsXsave)}{B(HostPke)}] lazy=0x{LazyTable:x2} eager=0x{EagerTable:x2}"
        );

    private int B(uint flag) => Has(flag) ? 1 : 0;
}
