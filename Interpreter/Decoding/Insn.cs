namespace CpuidFunctional.Interpreter.Decoding;

/// <summary>
/// A decoded instruction in the interpreter's own vocabulary: what the decoder adapter makes of Iced's
/// <c>Instruction</c>. Immutable and shared through the decode cache, so it is a class (decoded once per address).
/// </summary>
internal sealed class Insn
{
    public required Op Op { get; init; }

    public required ulong Rip { get; init; }

    public required int Length { get; init; }

    /// <summary>The instruction bytes, for "unsupported instruction" reports.</summary>
    public required byte[] Bytes { get; init; }

    /// <summary>NASM-syntax text of the instruction.</summary>
    public required string Text { get; init; }

    public Operand A { get; init; }

    public Operand B { get; init; }

    public Condition Condition { get; init; }

    /// <summary>Near-branch target of Jcc, JMP rel, CALL rel and LOOP.</summary>
    public ulong Target { get; init; }

    /// <summary>Operand size in bytes of the operation (for PUSH/POP, IN/OUT, shifts and ALU ops).</summary>
    public byte OpSize { get; init; }

    /// <summary>Why a decodable instruction is not executed (for <see cref="Op.Unsupported"/>).</summary>
    public string? Why { get; init; }

    public ulong NextRip => Rip + (ulong)Length;

    public string HexBytes => Convert.ToHexString(Bytes);

    public override string ToString() => Text;
}
