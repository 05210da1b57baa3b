using System.Runtime.InteropServices;

namespace CpuidFunctional.Oracle.Native;

/// <summary>
/// <c>struct kvm_xcrs</c> (392 bytes): a count, flags, 16 entries of {xcr, reserved, value} and padding. The entries
/// are kept as raw 64-bit words (entry i: word 2i holds the XCR number in its low half, word 2i+1 the value).
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct KvmXcrs
{
    public const int MaxXcrs = 16;

    public uint NrXcrs;
    public uint Flags;
    public fixed ulong Words[(2 * MaxXcrs) + 16];

    public readonly uint XcrIndex(int entry) => (uint)Words[2 * entry];

    public readonly ulong XcrValue(int entry) => Words[(2 * entry) + 1];

    public void SetXcr(int entry, uint index, ulong value)
    {
        Words[2 * entry] = index;
        Words[(2 * entry) + 1] = value;
    }
}
