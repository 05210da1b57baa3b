using Iced.Intel;

namespace CpuidFunctional.Properties.Interpreter;

/// <summary>One generated instruction (or short sequence): a readable name for shrunk failures and its emitter.</summary>
public sealed record GuestOp(string Name, Action<Assembler> Emit)
{
    public override string ToString() => Name;
}
