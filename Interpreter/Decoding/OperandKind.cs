namespace CpuidFunctional.Interpreter.Decoding;

/// <summary>What an operand of a domain instruction refers to.</summary>
internal enum OperandKind : byte
{
    None = 0,
    Register,
    Immediate,
    Memory,
    ControlRegister,
}
