namespace CpuidFunctional.Bench.Mutable;

/// <summary>
/// One vmcs12 as a mutable object: the same per-(width, type) chunk layout as <see cref="Vmcs12"/> (so a field is
/// located by the same encoding decode), but VMWRITE stores in place, as KVM's <c>struct vmcs12</c> does.
/// </summary>
internal sealed class MutableVmcs
{
    // One array per chunk, allocated up front: VMWRITE assigns into them.
    private readonly ulong[][] chunks = BuildChunks();

    /// <summary>Launch state (set by VMLAUNCH, cleared by VMCLEAR).</summary>
    public bool Launched { get; set; }

    private static ulong[][] BuildChunks()
    {
        var c = new ulong[VmcsField.ChunkCount][];
        for (var i = 0; i < c.Length; i++)
        {
            c[i] = new ulong[VmcsField.ChunkLength[i]];
        }
        return c;
    }

    /// <summary>A field (0 for unsupported encodings; a high-half encoding gives bits 63:32).</summary>
    public ulong Read(uint encoding)
    {
        if (!VmcsField.TryLocate(encoding, out var chunk, out var index, out _, out var high))
        {
            return 0;
        }
        var value = chunks[chunk][index];
        return high ? value >> 32 : value;
    }

    /// <summary>Writes a field in place, truncated to its width.</summary>
    public void Write(uint encoding, ulong value)
    {
        if (!VmcsField.TryLocate(encoding, out var chunk, out var index, out var width, out var high))
        {
            return;
        }
        ref var slot = ref chunks[chunk][index];
        slot = width switch
        {
            VmcsField.Width.Bits16 => value & 0xFFFF,
            VmcsField.Width.Bits32 => value & 0xFFFF_FFFF,
            VmcsField.Width.Bits64 when high => (slot & 0xFFFF_FFFF) | (value << 32),
            _ => value,
        };
    }
}
