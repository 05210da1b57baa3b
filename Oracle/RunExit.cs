using System.Globalization;

namespace CpuidFunctional.Oracle;

/// <summary>Why KVM_RUN returned to userspace.</summary>
/// <param name="Reason">The <c>KVM_EXIT_*</c> number (2 = IO, 5 = HLT, 8 = SHUTDOWN, 17 = INTERNAL_ERROR).</param>
/// <param name="Port">For an IO exit, the port.</param>
/// <param name="Suberror">For an internal error, the suberror (1 = emulation failure).</param>
/// <param name="Rip">Guest RIP after the exit (<c>ulong.MaxValue</c> if KVM_GET_REGS failed).</param>
/// <param name="IoOut">For an IO exit, whether it is an OUT (KVM_EXIT_IO_OUT) rather than an IN.</param>
/// <param name="IoSize">For an IO exit, the access size in bytes (1, 2 or 4).</param>
/// <param name="IoValue">For an OUT, the value written (the first of <c>count</c>), zero-extended.</param>
public readonly record struct RunExit(uint Reason, ushort Port, uint Suberror, ulong Rip, bool IoOut = false, int IoSize = 0, uint IoValue = 0)
{
    /// <summary>KVM_EXIT_IO.</summary>
    public const uint Io = 2;

    /// <summary>KVM_EXIT_HLT (only without an in-kernel local APIC; the oracle's VMs with one, for INIT, never halt).</summary>
    public const uint Hlt = Native.KvmIoctl.ExitHlt;

    /// <summary>KVM_EXIT_SHUTDOWN: a triple fault the kernel did not reflect to an L1.</summary>
    public const uint Shutdown = Native.KvmIoctl.ExitShutdown;

    /// <summary>Whether this is an IO exit on <paramref name="port"/>.</summary>
    public bool IsIo(ushort port) => Reason == Io && Port == port;

    /// <summary>Whether this is an OUT exit (KVM_EXIT_IO, direction out).</summary>
    public bool IsOut => Reason == Io && IoOut;

    /// <inheritdoc/>
    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"exit reason {Reason} port 0x{Port:x} suberror {Suberror} rip 0x{Rip:x}");
}
