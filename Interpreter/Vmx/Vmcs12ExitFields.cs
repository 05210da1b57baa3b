using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace CpuidFunctional.Interpreter.Vmx;

/// <summary>
/// The vmcs12 fields every VM exit writes (SDM Vol. 3, 28.2 and 28.3: basic exit information and the saved guest
/// state the interpreter switches), kept inline in <see cref="Vmcs12"/> so an exit makes one small object instead of
/// copying three chunks. The 32-bit fields are stored as 32 bits (16 bytes less per vmcs12 version).
/// </summary>
/// <param name="ExitReason">VM_EXIT_REASON (32-bit).</param>
/// <param name="ExitQualification">EXIT_QUALIFICATION.</param>
/// <param name="InstructionLength">VM_EXIT_INSTRUCTION_LEN (32-bit).</param>
/// <param name="InterruptionInfo">VM_EXIT_INTR_INFO (32-bit).</param>
/// <param name="InterruptionErrorCode">VM_EXIT_INTR_ERROR_CODE (32-bit).</param>
/// <param name="GuestRip">GUEST_RIP.</param>
/// <param name="GuestRsp">GUEST_RSP.</param>
/// <param name="GuestRflags">GUEST_RFLAGS.</param>
/// <param name="GuestCr0">GUEST_CR0.</param>
/// <param name="GuestCr4">GUEST_CR4.</param>
// Auto layout lets the runtime pack the four 32-bit fields together (64 bytes instead of 72 inside each vmcs12).
[StructLayout(LayoutKind.Auto)]
internal readonly record struct Vmcs12ExitFields(
    uint ExitReason,
    ulong ExitQualification,
    uint InstructionLength,
    uint InterruptionInfo,
    uint InterruptionErrorCode,
    ulong GuestRip,
    ulong GuestRsp,
    ulong GuestRflags,
    ulong GuestCr0,
    ulong GuestCr4
)
{
    // Per vmcs12 chunk (see VmcsField.TryLocate), the indices of the fields kept here: bit i = index i.
    private static readonly uint[] InlineIndices = BuildInlineIndices();

    /// <summary>Whether the field at a chunk and index (from <see cref="VmcsField.TryLocate"/>) is one of the exit fields.</summary>
    public static bool IsInline(int chunk, int index) => ((InlineIndices[chunk] >> index) & 1) != 0;

    private static uint[] BuildInlineIndices()
    {
        uint[] encodings =
        [
            VmcsField.VmExitReason, VmcsField.ExitQualification, VmcsField.VmExitInstructionLen, VmcsField.VmExitIntrInfo,
            VmcsField.VmExitIntrErrorCode, VmcsField.GuestRip, VmcsField.GuestRsp, VmcsField.GuestRflags,
            VmcsField.GuestCr0, VmcsField.GuestCr4,
        ];
        var indices = new uint[VmcsField.ChunkCount];
        foreach (var encoding in encodings)
        {
            VmcsField.TryLocate(encoding, out var chunk, out var index, out _, out _);
            indices[chunk] |= 1u << index;
        }
        return indices;
    }

    /// <summary>The value of an exit field; false for any other encoding.</summary>
    /// <remarks>
    /// Inlined: the VM-entry checks read exit fields with constant encodings, and there the switch folds to one load.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryRead(uint encoding, out ulong value)
    {
        switch (encoding)
        {
            case VmcsField.VmExitReason:
                value = ExitReason;
                return true;
            case VmcsField.ExitQualification:
                value = ExitQualification;
                return true;
            case VmcsField.VmExitInstructionLen:
                value = InstructionLength;
                return true;
            case VmcsField.VmExitIntrInfo:
                value = InterruptionInfo;
                return true;
            case VmcsField.VmExitIntrErrorCode:
                value = InterruptionErrorCode;
                return true;
            case VmcsField.GuestRip:
                value = GuestRip;
                return true;
            case VmcsField.GuestRsp:
                value = GuestRsp;
                return true;
            case VmcsField.GuestRflags:
                value = GuestRflags;
                return true;
            case VmcsField.GuestCr0:
                value = GuestCr0;
                return true;
            case VmcsField.GuestCr4:
                value = GuestCr4;
                return true;
            default:
                value = 0;
                return false;
        }
    }

    /// <summary>The fields with one exit field replaced (<paramref name="value"/> already fitted to its width); false for any other encoding.</summary>
    public bool TryWrite(uint encoding, ulong value, out Vmcs12ExitFields written)
    {
        switch (encoding)
        {
            case VmcsField.VmExitReason:
                written = this with { ExitReason = (uint)value };
                return true;
            case VmcsField.ExitQualification:
                written = this with { ExitQualification = value };
                return true;
            case VmcsField.VmExitInstructionLen:
                written = this with { InstructionLength = (uint)value };
                return true;
            case VmcsField.VmExitIntrInfo:
                written = this with { InterruptionInfo = (uint)value };
                return true;
            case VmcsField.VmExitIntrErrorCode:
                written = this with { InterruptionErrorCode = (uint)value };
                return true;
            case VmcsField.GuestRip:
                written = this with { GuestRip = value };
                return true;
            case VmcsField.GuestRsp:
                written = this with { GuestRsp = value };
                return true;
            case VmcsField.GuestRflags:
                written = this with { GuestRflags = value };
                return true;
            case VmcsField.GuestCr0:
                written = this with { GuestCr0 = value };
                return true;
            case VmcsField.GuestCr4:
                written = this with { GuestCr4 = value };
                return true;
            default:
                written = this;
                return false;
        }
    }
}
