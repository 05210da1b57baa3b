using System.Globalization;

namespace CpuidFunctional.Interpreter.Execution;

/// <summary>A value a guest reported with OUT.</summary>
/// <param name="Level">1 or 2: the level that executed OUT.</param>
/// <param name="Port">The I/O port.</param>
/// <param name="Value">AL, AX or EAX, zero-extended.</param>
/// <param name="Size">1, 2 or 4 bytes.</param>
public readonly record struct PortOutput(int Level, ushort Port, uint Value, int Size)
{
    /// <inheritdoc/>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"L{Level} out 0x{Port:x} <- 0x{Value:x} ({Size})");
}
