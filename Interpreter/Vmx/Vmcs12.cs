using System.Globalization;
using System.Text;

namespace CpuidFunctional.Interpreter.Vmx;

/// <summary>
/// One VMCS as L1 sees it (KVM's vmcs12): a map from the supported SDM field encodings to values, plus the launch
/// state. An immutable object; every write returns a new version that shares what did not change. Unwritten fields
/// read as 0. Equality is by content.
/// </summary>
/// <remarks>
/// Layout, for cost: the ten fields every VM exit writes (<see cref="Vmcs12ExitFields"/>: exit reason,
/// qualification, instruction length, interruption information and error code, guest RIP, RSP, RFLAGS, CR0, CR4)
/// are kept inline, so a VM exit or a VMWRITE of GUEST_RIP makes one small object. The other fields live in small
/// chunks, one per (width, type) pair of the encoding, behind a spine that is copied (with the one chunk written)
/// only when such a field is written: in practice while L1 sets the VMCS up.
/// </remarks>
public sealed class Vmcs12 : IEquatable<Vmcs12>
{
    // Shared by versions until a chunked field is written (never mutated after construction); a null chunk is all zero.
    private readonly ulong[]?[] chunks;

    // The exit fields, inline (their slots in the chunks stay 0).
    private readonly Vmcs12ExitFields exit;

    private Vmcs12(ulong[]?[] chunks, Vmcs12ExitFields exit, bool launched)
    {
        this.chunks = chunks;
        this.exit = exit;
        Launched = launched;
    }

    /// <summary>A VMCS with every field 0 and launch state "clear".</summary>
    public static Vmcs12 Clear { get; } = new(new ulong[]?[VmcsField.ChunkCount], default, false);

    /// <summary>Launch state: true after a successful VMLAUNCH, false after VMCLEAR.</summary>
    public bool Launched { get; }

    /// <summary>
    /// The identity of the chunked fields (every field but the inline exit fields): versions that share it have equal
    /// chunked fields, because a write to one of them makes a new spine.
    /// </summary>
    internal object ChunkIdentity => chunks;

    /// <summary>The same VMCS with another launch state.</summary>
    public Vmcs12 WithLaunched(bool launched) => launched == Launched ? this : new Vmcs12(chunks, exit, launched);

    /// <summary>A field's value (the high-half encoding of a 64-bit field gives bits 63:32); 0 for unsupported encodings.</summary>
    public ulong Read(uint encoding)
    {
        if (!VmcsField.TryLocate(encoding, out var chunk, out var index, out _, out var high))
        {
            return 0;
        }
        // The location decides cheaply whether the field is inline; most reads (VM-entry checks) are not.
        if (Vmcs12ExitFields.IsInline(chunk, index))
        {
            exit.TryRead(encoding, out var inline);
            return inline;
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
        if (Vmcs12ExitFields.IsInline(chunk, index) && exit.TryWrite(encoding, Fit(0, value, width, high), out var written))
        {
            return new Vmcs12(chunks, written, Launched);
        }
        var spine = (ulong[]?[])chunks.Clone();
        var values = spine[chunk] is { } old ? (ulong[])old.Clone() : new ulong[VmcsField.ChunkLength[chunk]];
        values[index] = Fit(values[index], value, width, high);
        spine[chunk] = values;
        return new Vmcs12(spine, exit, Launched);
    }

    /// <summary>The VMCS with all ten exit fields replaced at once (a VM exit); one new object, no chunk copied.</summary>
    internal Vmcs12 WithExitFields(in Vmcs12ExitFields fields) => new(chunks, fields, Launched);

    private static ulong Fit(ulong old, ulong value, VmcsField.Width width, bool high) =>
        width switch
        {
            VmcsField.Width.Bits16 => value & 0xFFFF,
            VmcsField.Width.Bits32 => value & 0xFFFF_FFFF,
            VmcsField.Width.Bits64 when high => (old & 0xFFFF_FFFF) | (value << 32),
            _ => value,
        };

    /// <inheritdoc/>
    public bool Equals(Vmcs12? other)
    {
        if (other is null)
        {
            return false;
        }
        if (ReferenceEquals(this, other))
        {
            return true;
        }
        if (Launched != other.Launched || exit != other.exit)
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
    public static bool operator ==(Vmcs12? left, Vmcs12? right) => left is null ? right is null : left.Equals(right);

    /// <summary>Value inequality.</summary>
    public static bool operator !=(Vmcs12? left, Vmcs12? right) => !(left == right);

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
