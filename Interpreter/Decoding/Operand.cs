namespace CpuidFunctional.Interpreter.Decoding;

/// <summary>
/// One operand of a domain instruction. Registers are numbered 0–15 (RAX..R15); <see cref="HighByte"/> marks AH..BH.
/// A memory operand is <c>base + index * scale + displacement</c> with <see cref="NoRegister"/> for an absent part;
/// RIP-relative operands are resolved to an absolute displacement at decode time (the cache is keyed by RIP).
/// </summary>
internal readonly struct Operand
{
    public const byte NoRegister = 0xFF;

    public OperandKind Kind { get; init; }

    /// <summary>Operand size in bytes (1, 2, 4 or 8).</summary>
    public byte Size { get; init; }

    /// <summary>Register number for register operands, control-register number for CRn.</summary>
    public byte Register { get; init; }

    public bool HighByte { get; init; }

    /// <summary>The immediate (sign-extended to 64 bits), or the memory displacement.</summary>
    public ulong Value { get; init; }

    public byte Base { get; init; }

    public byte Index { get; init; }

    public byte Scale { get; init; }

    /// <summary>The address is computed in 32 bits (0x67 prefix).</summary>
    public bool Address32 { get; init; }

    public static Operand Reg(byte number, byte size, bool highByte = false) =>
        new() { Kind = OperandKind.Register, Register = number, Size = size, HighByte = highByte, Base = NoRegister, Index = NoRegister };

    public static Operand Imm(ulong value, byte size) =>
        new() { Kind = OperandKind.Immediate, Value = value, Size = size, Base = NoRegister, Index = NoRegister };

    public static Operand Cr(byte number) =>
        new() { Kind = OperandKind.ControlRegister, Register = number, Size = 8, Base = NoRegister, Index = NoRegister };
}
