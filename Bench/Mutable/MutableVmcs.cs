using System.Runtime.CompilerServices;

namespace CpuidFunctional.Bench.Mutable;

/// <summary>
/// One vmcs12 as a mutable object: the same per-(width, type) chunk layout as <see cref="Vmcs12"/> (so a field is
/// located by the same encoding decode, <c>VmcsField.TryLocate</c>), but VMWRITE stores in place, as KVM's
/// <c>struct vmcs12</c> does. The chunks lie end to end in one array of <see cref="ChunkStride"/> slots each (the
/// longest chunk's length), so a field is one indexed load.
/// </summary>
internal sealed class MutableVmcs : IVmcsFields
{
    private static readonly int ChunkStride = VmcsField.ChunkLength.Max();

    private readonly ulong[] slots = new ulong[VmcsField.ChunkCount * ChunkStride];

    /// <summary>Launch state (set by VMLAUNCH, cleared by VMCLEAR).</summary>
    public bool Launched { get; set; }

    /// <summary>A copy with the same fields and launch state (VMPTRLD reading a region into the cache).</summary>
    public MutableVmcs Clone()
    {
        var copy = new MutableVmcs { Launched = Launched };
        slots.CopyTo(copy.slots, 0);
        return copy;
    }

    /// <summary>A field (0 for unsupported encodings; a high-half encoding gives bits 63:32).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong Read(uint encoding)
    {
        if (!VmcsField.TryLocate(encoding, out var chunk, out var index, out _, out var high))
        {
            return 0;
        }
        var value = slots[(chunk * ChunkStride) + index];
        return high ? value >> 32 : value;
    }

    /// <summary>Writes a field in place, truncated to its width.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Write(uint encoding, ulong value)
    {
        if (!VmcsField.TryLocate(encoding, out var chunk, out var index, out var width, out var high))
        {
            return;
        }
        ref var slot = ref slots[(chunk * ChunkStride) + index];
        slot = width switch
        {
            VmcsField.Width.Bits16 => value & 0xFFFF,
            VmcsField.Width.Bits32 => value & 0xFFFF_FFFF,
            VmcsField.Width.Bits64 when high => (slot & 0xFFFF_FFFF) | (value << 32),
            _ => value,
        };
    }
}
