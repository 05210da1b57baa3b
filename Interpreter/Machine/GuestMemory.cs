using System.Buffers.Binary;

namespace CpuidFunctional.Interpreter.Machine;

/// <summary>
/// Guest-physical memory (<see cref="MachineLayout.MemorySize"/> bytes), persistent: a write returns a new memory that
/// shares every page but the written one (copy-on-write of one 4 KiB page plus the small arrays on its path). Pages
/// never written are one shared zero page. Linear addresses equal physical addresses (identity mapping).
/// </summary>
public sealed class GuestMemory
{
    internal const int PageShift = 12;
    internal const int PageSize = 1 << PageShift;
    internal const ulong PageMask = PageSize - 1;

    // Two-level radix: Leaves leaves of PagesPerLeaf pages; a write copies one page, one leaf and the root.
    private const int PagesPerLeaf = 32;
    private const int Leaves = (int)(MachineLayout.MemorySize / PageSize / PagesPerLeaf);

    private static readonly byte[] ZeroPage = new byte[PageSize];
    private static readonly byte[][] ZeroLeaf = MakeZeroLeaf();

    private readonly byte[][][] root;

    private GuestMemory(byte[][][] root) => this.root = root;

    /// <summary>All-zero memory.</summary>
    public static GuestMemory Empty { get; } = new(MakeZeroRoot());

    /// <summary>Whether <paramref name="size"/> bytes at <paramref name="address"/> lie inside guest memory.</summary>
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Performance", "CA1822", Justification = "A memory answers for its own bounds; that every memory has the same size today is the layout's choice, not the API's.")]
    public bool Contains(ulong address, int size) =>
        address < MachineLayout.MemorySize && (ulong)size <= MachineLayout.MemorySize - address;

    /// <summary>The byte at an address inside memory.</summary>
    public byte ReadByte(ulong address) => Page(address >> PageShift)[(int)(address & PageMask)];

    /// <summary>A little-endian value of 1, 2, 4 or 8 bytes; the address must be inside memory (<see cref="Contains"/>).</summary>
    public ulong Read(ulong address, int size)
    {
        var offset = (int)(address & PageMask);
        if (offset + size <= PageSize)
        {
            var span = Page(address >> PageShift).AsSpan(offset, size);
            return size switch
            {
                1 => span[0],
                2 => BinaryPrimitives.ReadUInt16LittleEndian(span),
                4 => BinaryPrimitives.ReadUInt32LittleEndian(span),
                _ => BinaryPrimitives.ReadUInt64LittleEndian(span),
            };
        }
        var value = 0ul;
        for (var i = size - 1; i >= 0; i--)
        {
            value = (value << 8) | ReadByte(address + (ulong)i);
        }
        return value;
    }

    /// <summary>Memory with a little-endian value written; the address must be inside memory.</summary>
    public GuestMemory Write(ulong address, int size, ulong value)
    {
        Span<byte> bytes = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, value);
        return WriteBytes(address, bytes[..size]);
    }

    /// <summary>Memory with bytes written (for loading a program); the range must be inside memory.</summary>
    public GuestMemory WriteBytes(ulong address, ReadOnlySpan<byte> bytes)
    {
        if (!Contains(address, bytes.Length))
        {
            throw new ArgumentOutOfRangeException(nameof(address), "write outside guest memory");
        }
        var newRoot = (byte[][][])root.Clone();
        var done = 0;
        while (done < bytes.Length)
        {
            var at = address + (ulong)done;
            var number = at >> PageShift;
            var offset = (int)(at & PageMask);
            var chunk = Math.Min(PageSize - offset, bytes.Length - done);
            var leafIndex = (int)(number / PagesPerLeaf);
            var pageIndex = (int)(number % PagesPerLeaf);
            if (ReferenceEquals(newRoot[leafIndex], root[leafIndex]))
            {
                newRoot[leafIndex] = (byte[][])root[leafIndex].Clone();
            }
            var leaf = newRoot[leafIndex];
            if (ReferenceEquals(leaf[pageIndex], root[leafIndex][pageIndex]))
            {
                leaf[pageIndex] = (byte[])leaf[pageIndex].Clone();
            }
            bytes.Slice(done, chunk).CopyTo(leaf[pageIndex].AsSpan(offset));
            done += chunk;
        }
        return new GuestMemory(newRoot);
    }

    /// <summary>
    /// Memory with several little-endian values written into the page at <paramref name="page"/> (which must be inside
    /// memory), copying that page once rather than once per value: a #VMEXIT's dozen vmcb12 fields cost one copy.
    /// </summary>
    public GuestMemory WriteInPage(ulong page, ReadOnlySpan<PageWrite> writes)
    {
        var number = page >> PageShift;
        if (number >= MachineLayout.MemorySize >> PageShift)
        {
            throw new ArgumentOutOfRangeException(nameof(page), "write outside guest memory");
        }
        var newRoot = (byte[][][])root.Clone();
        var leafIndex = (int)(number / PagesPerLeaf);
        var leaf = newRoot[leafIndex] = (byte[][])root[leafIndex].Clone();
        var bytes = leaf[(int)(number % PagesPerLeaf)] = (byte[])leaf[(int)(number % PagesPerLeaf)].Clone();
        foreach (var w in writes)
        {
            var span = bytes.AsSpan(w.Offset, w.Size);
            if (w.Size == 4)
            {
                BinaryPrimitives.WriteUInt32LittleEndian(span, (uint)w.Value);
            }
            else
            {
                BinaryPrimitives.WriteUInt64LittleEndian(span, w.Value);
            }
        }
        return new GuestMemory(newRoot);
    }

    /// <summary>The page object holding a page number, or null outside memory; its identity changes when it is written.</summary>
    internal byte[]? PageOrNull(ulong number) =>
        number < MachineLayout.MemorySize >> PageShift ? root[(int)(number / PagesPerLeaf)][(int)(number % PagesPerLeaf)] : null;

    private byte[] Page(ulong number) => root[(int)(number / PagesPerLeaf)][(int)(number % PagesPerLeaf)];

    private static byte[][] MakeZeroLeaf()
    {
        var leaf = new byte[PagesPerLeaf][];
        Array.Fill(leaf, ZeroPage);
        return leaf;
    }

    private static byte[][][] MakeZeroRoot()
    {
        var r = new byte[Leaves][][];
        Array.Fill(r, ZeroLeaf);
        return r;
    }
}

/// <summary>One value of <see cref="GuestMemory.WriteInPage"/>: 4 or 8 bytes at an offset inside the page.</summary>
/// <param name="Offset">Byte offset in the page.</param>
/// <param name="Size">4 or 8.</param>
/// <param name="Value">The value, little-endian.</param>
public readonly record struct PageWrite(int Offset, int Size, ulong Value);
