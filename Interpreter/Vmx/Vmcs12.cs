using System.Globalization;
using System.Text;

namespace CpuidFunctional.Interpreter;

/// <summary>
/// One VMCS as L1 sees it (KVM's vmcs12): a map from the supported SDM field encodings to values, plus the launch
/// state. Stored in small immutable chunks, one per (width, type) pair of the encoding, so a VMWRITE copies one chunk
/// of at most 32 values and shares the rest. Unwritten fields read as 0. A value type; equality is by content.
/// </summary>
public readonly struct Vmcs12 : IEquatable<Vmcs12>
{
    private readonly VmcsChunks chunks;

    private Vmcs12(VmcsChunks chunks, bool launched)
    {
        this.chunks = chunks;
        Launched = launched;
    }

    /// <summary>A VMCS with every field 0 and launch state "clear".</summary>
    public static Vmcs12 Clear => default;

    /// <summary>Launch state: true after a successful VMLAUNCH, false after VMCLEAR.</summary>
    public bool Launched { get; }

    /// <summary>The same VMCS with another launch state.</summary>
    public Vmcs12 WithLaunched(bool launched) => launched == Launched ? this : new Vmcs12(chunks, launched);

    /// <summary>A field's value (the high-half encoding of a 64-bit field gives bits 63:32); 0 for unsupported encodings.</summary>
    public ulong Read(uint encoding)
    {
        if (!VmcsField.TryLocate(encoding, out var chunk, out var index, out _, out var high))
        {
            return 0;
        }
        var values = chunks[chunk];
        var value = values is null ? 0 : values[index];
        return high ? value >> 32 : value;
    }

    /// <summary>
    /// The VMCS with a field written (truncated to the field's width; a high-half encoding replaces bits 63:32).
    /// Unsupported encodings leave it unchanged; VMWRITE checks support first.
    /// </summary>
    public Vmcs12 Write(uint encoding, ulong value)
    {
        if (!VmcsField.TryLocate(encoding, out var chunk, out var index, out var width, out var high))
        {
            return this;
        }
        var copy = chunks;
        var values = Copy(copy[chunk], chunk);
        values[index] = Fit(values[index], value, width, high);
        copy[chunk] = values;
        return new Vmcs12(copy, Launched);
    }

    /// <summary>
    /// Several fields at once (VM-exit information): each touched chunk is copied once. Encodings must be supported
    /// full-field encodings.
    /// </summary>
    internal Vmcs12 Write(ReadOnlySpan<uint> encodings, ReadOnlySpan<ulong> values)
    {
        var copy = chunks;
        Span<bool> copied = stackalloc bool[VmcsField.ChunkCount];
        for (var i = 0; i < encodings.Length; i++)
        {
            VmcsField.TryLocate(encodings[i], out var chunk, out var index, out var width, out var high);
            if (!copied[chunk])
            {
                copy[chunk] = Copy(copy[chunk], chunk);
                copied[chunk] = true;
            }
            var target = copy[chunk]!;
            target[index] = Fit(target[index], values[i], width, high);
        }
        return new Vmcs12(copy, Launched);
    }

    private static ulong[] Copy(ulong[]? values, int chunk) =>
        values is null ? new ulong[VmcsField.ChunkLength[chunk]] : (ulong[])values.Clone();

    private static ulong Fit(ulong old, ulong value, VmcsField.Width width, bool high) =>
        width switch
        {
            VmcsField.Width.Bits16 => value & 0xFFFF,
            VmcsField.Width.Bits32 => value & 0xFFFF_FFFF,
            VmcsField.Width.Bits64 when high => (old & 0xFFFF_FFFF) | (value << 32),
            _ => value,
        };

    /// <inheritdoc/>
    public bool Equals(Vmcs12 other)
    {
        if (Launched != other.Launched)
        {
            return false;
        }
        for (var c = 0; c < VmcsField.ChunkCount; c++)
        {
            var a = chunks[c];
            var b = other.chunks[c];
            if (ReferenceEquals(a, b))
            {
                continue;
            }
            for (var i = 0; i < VmcsField.ChunkLength[c]; i++)
            {
                if ((a is null ? 0 : a[i]) != (b is null ? 0 : b[i]))
                {
                    return false;
                }
            }
        }
        return true;
    }

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is Vmcs12 other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Launched, Read(VmcsField.GuestRip), Read(VmcsField.GuestCr4));

    /// <summary>Value equality.</summary>
    public static bool operator ==(Vmcs12 left, Vmcs12 right) => left.Equals(right);

    /// <summary>Value inequality.</summary>
    public static bool operator !=(Vmcs12 left, Vmcs12 right) => !left.Equals(right);

    /// <summary>The launch state and every non-zero field.</summary>
    public override string ToString()
    {
        var s = new StringBuilder(Launched ? "launched" : "clear");
        foreach (var f in VmcsField.All)
        {
            var v = Read(f);
            if (v != 0)
            {
                s.Append(CultureInfo.InvariantCulture, $" {f:x4}=0x{v:x}");
            }
        }
        return s.ToString();
    }
}
