using System.Collections.Immutable;
using CpuidFunctional.Core.Host;

namespace CpuidFunctional.Interpreter.Machine;

/// <summary>
/// A flat x86-64 binary (what <c>nasm -f bin</c> makes with <c>org 0x1000</c>), loaded at
/// <see cref="MachineLayout.LoadAddress"/> and entered at its first byte. It holds both levels: L1 code and the L2
/// code L1 points GUEST_RIP at.
/// </summary>
public sealed class Program
{
    private Program(ImmutableArray<byte> bytes) => Bytes = bytes;

    /// <summary>The image.</summary>
    public ImmutableArray<byte> Bytes { get; }

    /// <summary>A program from its bytes; an error if empty or larger than <see cref="MachineLayout.MaxProgramSize"/>.</summary>
    public static Result<Program> FromBytes(ReadOnlySpan<byte> bytes, string source = "program")
    {
        if (bytes.IsEmpty)
        {
            return new Result<Program>.Error(new ParseError(source, 0, "empty program"));
        }
        if (bytes.Length > MachineLayout.MaxProgramSize)
        {
            return new Result<Program>.Error(
                new ParseError(source, 0, $"program of {bytes.Length} bytes exceeds {MachineLayout.MaxProgramSize} bytes"));
        }
        return new Result<Program>.Ok(new Program([.. bytes]));
    }
}
