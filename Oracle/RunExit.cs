using System.Globalization;

namespace CpuidFunctional.Oracle;

/// <summary>Why KVM_RUN returned to userspace.</summary>
/// <param name="Reason">The <c>KVM_EXIT_*</c> number (2 = IO, 5 = HLT, 8 = SHUTDOWN, 17 = INTERNAL_ERROR).</param>
/// <param name="Port">For an IO exit, the port.</param>
/// <param name="Suberror">For an internal error, the suberror (1 = emulation failure).</param>
/// <param name="Rip">Guest RIP after the exit (<c>ulong.MaxValue</c> if KVM_GET_REGS failed).</param>
public readonly record struct RunExit(uint Reason, ushort Port, uint Suberror, ulong Rip)
{
    /// <summary>KVM_EXIT_IO.</summary>
    public const uint Io = 2;

    /// <summary>Whether this is an IO exit on <paramref name="port"/>.</summary>
    public bool IsIo(ushort port) => Reason == Io && Port == port;

    /// <inheritdoc/>
    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"exit reason {Reason} port 0x{Port:x} suberror {Suberror} rip 0x{Rip:x}");
}
