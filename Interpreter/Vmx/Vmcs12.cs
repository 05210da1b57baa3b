using System.Globalization;
using System.Text;
using CpuidFunctional.Interpreter.Machine;

namespace CpuidFunctional.Interpreter.Vmx;

/// <summary>
/// One VMCS as L1 sees it (KVM's vmcs12): a map from the supported SDM field encodings to values, plus the launch
/// state. An immutable object; every write returns a new version that shares what did not change. Unwritten fields
/// read as 0. Equality is by content.
/// </summary>
/// <remarks>
/// Layout, for cost: of the ten fields every VM exit writes (<see cref="Vmcs12ExitFields"/>: exit reason,
/// qualification, instruction length, interruption information and error code, guest RIP, RSP, RFLAGS, CR0, CR4),
/// GUEST_RIP is kept inline and the other nine, with the launch state, in one immutable block that versions share
/// until one of them changes, so a VMWRITE of GUEST_RIP (L1 skipping the exiting instruction) and a VM exit that
/// writes the same nine values again (a guest exiting from one place in a loop) each make one 40-byte object. The other fields live in small
/// chunks, one per (width, type) pair of the encoding, behind a spine that is copied (with the one chunk written)
/// only when such a field is written: in practice while L1 sets the VMCS up.
/// </remarks>
public sealed class Vmcs12 : IEquatable<Vmcs12>, IVmcsFields
{
    // Shared by versions until a chunked field is written (never mutated after construction); a null chunk is all zero.
    private readonly ulong[]?[] chunks;

    // The launch state and the exit fields but GUEST_RIP (whose value in the block is always 0), shared by versions
    // until one of them changes (the exit fields' slots in the chunks stay 0).
    private readonly Block block;

    // GUEST_RIP, the exit field that changes on nearly every exit and VMWRITE.
    private readonly ulong guestRip;

    private Vmcs12(ulong[]?[] chunks, Block block, ulong guestRip)
    {
        this.chunks = chunks;
        this.block = block;
        this.guestRip = guestRip;
    }

    /// <summary>A VMCS with every field 0 and launch state "clear".</summary>
    public static Vmcs12 Clear { get; } = new(new ulong[]?[VmcsField.ChunkCount], new Block(default, false), 0);

    /// <summary>Launch state: true after a successful VMLAUNCH, false after VMCLEAR.</summary>
    public bool Launched => block.Launched;

    /// <summary>
    /// The identity of the chunked fields (every field but the inline exit fields): versions that share it have equal
    /// chunked fields, because a write that changes one of them makes a new spine.
    /// </summary>
    internal object ChunkIdentity => chunks;

    /// <summary>The same VMCS with another launch state.</summary>
    public Vmcs12 WithLaunched(bool launched) => launched == Launched ? this : new Vmcs12(chunks, new Block(block.Exit, launched), guestRip);

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
            block.Exit.TryRead(encoding, out var inline);
            return encoding == VmcsField.GuestRip ? guestRip : inline;
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
        if (TryWriteExitField(encoding, value, chunk, index, width, high, out var written))
        {
            return WithExitFields(written);
        }
        var before = chunks[chunk] is { } stored ? stored[index] : 0;
        var after = Fit(before, value, width, high);
        if (after == before)
        {
            return this; // a write of the value already there: the same version, and the same chunk identity
        }
        var spine = Arrays.Copied(chunks);
        var values = spine[chunk] is { } old ? Arrays.Copied(old) : new ulong[VmcsField.ChunkLength[chunk]];
        values[index] = after;
        spine[chunk] = values;
        return new Vmcs12(spine, block, guestRip);
    }

    /// <summary>
    /// The VMCS with all ten exit fields replaced at once (a VM exit); one new object, no chunk copied, and the block
    /// of the other nine kept when none of them changed. The same version if none of the ten changed.
    /// </summary>
    internal Vmcs12 WithExitFields(in Vmcs12ExitFields fields)
    {
        var rest = fields with { GuestRip = 0 };
        if (rest != block.Exit)
        {
            return new(chunks, new Block(rest, Launched), fields.GuestRip);
        }
        return fields.GuestRip == guestRip ? this : new(chunks, block, fields.GuestRip);
    }

    /// <summary>
    /// The ten exit fields after a write of <paramref name="value"/> to one of them (truncated as <see cref="Write"/>
    /// truncates it); false, and no fields, if <paramref name="encoding"/> is not an exit field.
    /// </summary>
    internal bool TryWriteExitField(uint encoding, ulong value, out Vmcs12ExitFields written)
    {
        written = default;
        return VmcsField.TryLocate(encoding, out var chunk, out var index, out var width, out var high)
            && TryWriteExitField(encoding, value, chunk, index, width, high, out written);
    }

    /// <summary><see cref="TryWriteExitField(uint, ulong, out Vmcs12ExitFields)"/> for a field already located.</summary>
    private bool TryWriteExitField(uint encoding, ulong value, int chunk, int index, VmcsField.Width width, bool high, out Vmcs12ExitFields written)
    {
        written = default;
        return Vmcs12ExitFields.IsInline(chunk, index) && Fields.TryWrite(encoding, Fit(0, value, width, high), out written);
    }

    /// <summary>
    /// Whether this version is what <c>basis.WithExitFields(fields)</c> makes: the same chunked fields (the same
    /// spine), the same launch state and these ten exit fields. Lets a run reuse a version it made before.
    /// </summary>
    internal bool IsWithExitFields(Vmcs12 basis, in Vmcs12ExitFields fields) =>
        ReferenceEquals(chunks, basis.chunks)
        && guestRip == fields.GuestRip
        && block.Launched == basis.block.Launched
        && block.Exit == (fields with { GuestRip = 0 });

    // All ten exit fields.
    private Vmcs12ExitFields Fields => block.Exit with { GuestRip = guestRip };

    // The launch state and the exit fields but GUEST_RIP, immutable: a version points at one instead of holding
    // 64 bytes inline.
    private sealed record Block(Vmcs12ExitFields Exit, bool Launched);

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
        if (guestRip != other.guestRip || block != other.block)
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
