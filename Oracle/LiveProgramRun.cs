using System.Globalization;
using CpuidFunctional.Core;

namespace CpuidFunctional.Oracle;

/// <summary>A value a program reported with OUT, as KVM_EXIT_IO showed it (L1 and L2 look the same to the host).</summary>
/// <param name="Port">The I/O port.</param>
/// <param name="Value">AL, AX or EAX, zero-extended.</param>
/// <param name="Size">1, 2 or 4 bytes.</param>
public readonly record struct LiveOutput(ushort Port, uint Value, int Size)
{
    /// <inheritdoc/>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"out 0x{Port:x} <- 0x{Value:x} ({Size})");
}

/// <summary>What the host saw of a program on the live kernel: its OUTs in order, and why it stopped.</summary>
/// <param name="Outputs">Every OUT, in order.</param>
/// <param name="Stop">The final exit.</param>
public sealed record LiveProgramRun(ValueArray<LiveOutput> Outputs, LiveStop Stop);
