using System.Collections.Immutable;
using System.Text;
using CpuidFunctional.Core.Cpuid;
using CpuidFunctional.Core.State;

namespace CpuidFunctional.Core.Host;

/// <summary>
/// The host's XSAVE component table (what <c>kvm_init_xstate_sizes</c> snapshots at module load) and the size
/// computation KVM runs on it (<c>xstate_required_size</c>). Compared by content.
/// </summary>
public sealed class XsaveLayout : IEquatable<XsaveLayout>
{
    /// <summary><c>XSAVE_HDR_OFFSET + XSAVE_HDR_SIZE</c>: the legacy FXSAVE area plus the XSAVE header.</summary>
    public const uint LegacyAndHeaderSize = 512 + 64;

    /// <summary>Components KVM looks at (<c>XFEATURE_MAX</c> in 6.x kernels is below this).</summary>
    public const int ComponentSlots = 64;

    private readonly ImmutableArray<XsaveComponent> components; // indexed by component number, length 64

    private XsaveLayout(ImmutableArray<XsaveComponent> components) => this.components = components;

    /// <summary>A layout from the components a host enumerates (any order; missing ones are absent).</summary>
    public static XsaveLayout Of(IEnumerable<XsaveComponent> present)
    {
        var slots = new XsaveComponent[ComponentSlots];
        for (var i = 0; i < ComponentSlots; i++)
        {
            slots[i] = new XsaveComponent(i, 0, 0, 0);
        }
        foreach (var c in present)
        {
            if (c.Index is >= 2 and < ComponentSlots)
            {
                slots[c.Index] = c;
            }
        }
        return new([.. slots]);
    }

    /// <summary>The layout read from a host's CPUID.0xD.i entries (i ≥ 2).</summary>
    public static XsaveLayout FromCpuid(CpuidTable hostCpuid) =>
        Of(
            hostCpuid
                .Entries.Where(e => e.Function == 0xD && e.Index is >= 2 and < ComponentSlots && e.Eax != 0)
                .Select(e => new XsaveComponent((int)e.Index, e.Eax, e.Ebx, e.Ecx))
        );

    /// <summary>The enumerated components in index order.</summary>
    public IEnumerable<XsaveComponent> Components => components.Where(c => c.IsPresent);

    /// <summary>Component i (absent components have size 0).</summary>
    public XsaveComponent this[int index] => components[index];

    /// <summary>
    /// <c>xstate_required_size(xstate_bv, compacted)</c>: the XSAVE area size for the requested components.
    /// Standard format: the end of the highest requested component (holes count). Compacted: a running sum in
    /// index order, 64-byte aligned where ECX bit 1 says so.
    /// </summary>
    /// <param name="xstateBv">Requested components (XCR0, or XCR0 | IA32_XSS for 0xD.1 from 6.18).</param>
    /// <param name="compacted">Compacted (XSAVEC/XSAVES) rather than standard format.</param>
    /// <param name="honourAlignment">False reproduces the pre-2022 bug that ignored the alignment flag (AMX).</param>
    public uint RequiredSize(ulong xstateBv, bool compacted, bool honourAlignment = true)
    {
        var size = LegacyAndHeaderSize;
        var remaining = xstateBv & Xcr0.MaskExtend;
        var span = components.AsSpan();
        for (var i = 2; remaining != 0 && i < ComponentSlots; i++)
        {
            var bit = 1ul << i;
            if ((remaining & bit) == 0)
            {
                continue;
            }
            remaining &= ~bit;
            ref readonly var c = ref span[i];
            var offset = compacted ? (honourAlignment && c.Align64 ? AlignUp64(size) : size) : c.Offset;
            size = Math.Max(size, offset + c.Size);
        }
        return size;
    }

    private static uint AlignUp64(uint value) => (value + 63) & ~63u;

    /// <inheritdoc/>
    public bool Equals(XsaveLayout? other) =>
        other is not null
        && (ReferenceEquals(this, other) || components.AsSpan().SequenceEqual(other.components.AsSpan()));

    /// <inheritdoc/>
    public override bool Equals(object? obj) => Equals(obj as XsaveLayout);

    /// <inheritdoc/>
    public override int GetHashCode()
    {
        var hash = new HashCode();
        foreach (var c in Components)
        {
            hash.Add(c);
        }
        return hash.ToHashCode();
    }

    /// <summary>Value equality.</summary>
    public static bool operator ==(XsaveLayout? left, XsaveLayout? right) =>
        left is null ? right is null : left.Equals(right);

    /// <summary>Value inequality.</summary>
    public static bool operator !=(XsaveLayout? left, XsaveLayout? right) => !(left == right);

    /// <inheritdoc/>
    public override string ToString()
    {
        var sb = new StringBuilder("XsaveLayout");
        foreach (var c in Components)
        {
            sb.Append("\n  ").Append(c.ToString());
        }
        return sb.ToString();
    }
}
