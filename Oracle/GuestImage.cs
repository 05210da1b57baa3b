using CpuidFunctional.Core;

namespace CpuidFunctional.Oracle;

/// <summary>The assembled guest programs and the addresses the host needs to install them.</summary>
/// <param name="RealMode">Bytes of the real-mode interpreter, to be copied to <see cref="GuestLayout.RealModeCode"/>.</param>
/// <param name="RealModeEntry">Where the real-mode interpreter starts (segment set-up, then the loop).</param>
/// <param name="RealModeStubs">Address of the exception stub for each vector 0–31 (the IVT points there).</param>
/// <param name="ProtectedMode">Bytes of the CPL3 interpreter, to be copied to <see cref="GuestLayout.ProtectedModeCode"/>.</param>
/// <param name="ProtectedModeEntry">Where the CPL3 interpreter's loop starts.</param>
/// <param name="ProtectedModeStubs">Address of the ring-0 handler for each vector 0–31 (the IDT points there).</param>
public sealed record GuestImage(
    ValueArray<byte> RealMode,
    ulong RealModeEntry,
    ValueArray<ulong> RealModeStubs,
    ValueArray<byte> ProtectedMode,
    ulong ProtectedModeEntry,
    ValueArray<ulong> ProtectedModeStubs
);
