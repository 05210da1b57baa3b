using System.Runtime.CompilerServices;

namespace CpuidFunctional.Interpreter.Machine;

/// <summary>Inline storage for the 16 general-purpose registers (no heap array: a register file is a plain value).</summary>
[InlineArray(16)]
internal struct Gpr16
{
    private ulong element0;
}
