namespace CpuidFunctional.Interpreter.Machine;

/// <summary>RFLAGS bits the interpreter computes (SDM Vol. 1, 3.4.3).</summary>
public static class Rflags
{
    /// <summary>Carry.</summary>
    public const ulong CF = 1ul << 0;

    /// <summary>Bit 1, always 1.</summary>
    public const ulong Fixed1 = 1ul << 1;

    /// <summary>Parity of the low byte.</summary>
    public const ulong PF = 1ul << 2;

    /// <summary>Auxiliary carry (bit 3 carry).</summary>
    public const ulong AF = 1ul << 4;

    /// <summary>Zero.</summary>
    public const ulong ZF = 1ul << 6;

    /// <summary>Sign.</summary>
    public const ulong SF = 1ul << 7;

    /// <summary>Overflow.</summary>
    public const ulong OF = 1ul << 11;

    /// <summary>The six arithmetic flags.</summary>
    public const ulong Arithmetic = CF | PF | AF | ZF | SF | OF;

    /// <summary>The reserved bits (3, 5, 15, 63:22), which must be 0 in GUEST_RFLAGS at VM entry (the SDM's checks on guest RFLAGS).</summary>
    public const ulong Reserved = (1ul << 3) | (1ul << 5) | (1ul << 15) | ~0x3F_FFFFul;
}
