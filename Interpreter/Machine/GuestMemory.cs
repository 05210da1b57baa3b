using System.Buffers.Binary;

namespace CpuidFunctional.Interpreter.Machine;

/// <summary>
/// Guest-physical memory (<see cref="MachineLayout.MemorySize"/> bytes), persistent: a write returns a new memory that
/// shares everything but the 256-byte blocks it wrote and the small arrays on their path (the root, one leaf of pages,
/// the page's block table). Blocks never written are one shared zero block. A 4 KiB page is a table of blocks whose
/// identity changes when any of its bytes is written, which is what the decode cache checks. Linear addresses equal
/// physical addresses (identity mapping).
/// </summary>
public sealed class GuestMemory
{
    internal const int PageShift = 12;
    internal const int PageSize = 1 << PageShift;
    internal const ulong PageMask = PageSize - 1;

    // Copy-on-write unit: a write copies 256 bytes, not a page (a #VMEXIT's vmcb12 fields touch three blocks).
    private const int BlockShift = 8;
    private const int BlockSize = 1 << BlockShift;
    private const int BlockMask = BlockSize - 1;
    private const int BlocksPerPage = PageSize / BlockSize;

    // Radix: Leaves leaves of PagesPerLeaf pages of BlocksPerPage blocks; a write copies its blocks, their pages'
    // block tables, their leaves and the root.
    private const int PagesPerLeaf = 32;
    private const int Leaves = (int)(MachineLayout.MemorySize / PageSize / PagesPerLeaf);

    private static readonly byte[] ZeroBlock = new byte[BlockSize];
    private static readonly byte[][] ZeroPage = Filled(BlocksPerPage, ZeroBlock);
    private static readonly byte[][][] ZeroLeaf = Filled(PagesPerLeaf, ZeroPage);

    private readonly byte[][][][] root;

    private GuestMemory(byte[][][][] root) => this.root = root;

    /// <summary>All-zero memory.</summary>
    public static GuestMemory Empty { get; } = new(Filled(Leaves, ZeroLeaf));

    /// <summary>Whether <paramref name="size"/> bytes at <paramref name="address"/> lie inside guest memory.</summary>
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Performance", "CA1822", Justification = "A memory answers for its own bounds; that every memory has the same size today is the layout's choice, not the API's.")]
    public bool Contains(ulong address, int size) =>
        address < MachineLayout.MemorySize && (ulong)size <= MachineLayout.MemorySize - address;

    /// <summary>The byte at an address inside memory.</summary>
    public byte ReadByte(ulong address) => Block(address)[(int)address & BlockMask];

    /// <summary>A little-endian value of 1, 2, 4 or 8 bytes; the address must be inside memory (<see cref="Contains"/>).</summary>
    public ulong Read(ulong address, int size)
    {
        var offset = (int)address & BlockMask;
        if (offset + size <= BlockSize)
        {
            var span = Block(address).AsSpan(offset, size);
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
        var copy = new Copy(root);
        copy.Put(address, bytes);
        return new GuestMemory(copy.Root);
    }

    /// <summary>
    /// Memory with several little-endian values written into the page at <paramref name="page"/> (which must be inside
    /// memory), copying each block they touch once rather than once per value: a #VMEXIT's dozen vmcb12 fields cost one
    /// copy of the path and of three blocks.
    /// </summary>
    public GuestMemory WriteInPage(ulong page, ReadOnlySpan<PageWrite> writes)
    {
        if (page >> PageShift >= MachineLayout.MemorySize >> PageShift)
        {
            throw new ArgumentOutOfRangeException(nameof(page), "write outside guest memory");
        }
        var copy = new Copy(root);
        Span<byte> bytes = stackalloc byte[8];
        foreach (var w in writes)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(bytes, w.Value);
            copy.Put((page & ~PageMask) + (ulong)w.Offset, bytes[..w.Size]);
        }
        return new GuestMemory(copy.Root);
    }

    /// <summary>
    /// The object standing for a page's contents, or null outside memory: the same object while the page is unwritten,
    /// a new one after any byte of it is written (the decode cache's validity check).
    /// </summary>
    internal object? PageOrNull(ulong number)
    {
        if (number >= MachineLayout.MemorySize >> PageShift)
        {
            return null;
        }
        var (leaf, page, _) = Locate(number << PageShift);
        return root[leaf][page];
    }

    private byte[] Block(ulong address)
    {
        var (leaf, page, block) = Locate(address);
        return root[leaf][page][block];
    }

    /// <summary>Where an address inside memory lies in the radix: its leaf, its page in the leaf and its block in the page.</summary>
    private static (int Leaf, int Page, int Block) Locate(ulong address)
    {
        var number = address >> PageShift;
        return ((int)(number / PagesPerLeaf), (int)(number % PagesPerLeaf), ((int)address >> BlockShift) & (BlocksPerPage - 1));
    }

    private static T[] Filled<T>(int count, T value)
    {
        var array = new T[count];
        Array.Fill(array, value);
        return array;
    }

    /// <summary>
    /// One write's private copy of the path: the root, and each leaf, page block table and block the first time the
    /// write reaches it (later reaches reuse that copy). Nothing is shared with the source memory that is written.
    /// </summary>
    private readonly struct Copy(byte[][][][] source)
    {
        public byte[][][][] Root { get; } = Arrays.Copied(source);

        /// <summary>Writes bytes into the copy, block by block.</summary>
        public void Put(ulong address, ReadOnlySpan<byte> bytes)
        {
            var done = 0;
            while (done < bytes.Length)
            {
                var at = address + (ulong)done;
                var offset = (int)at & BlockMask;
                var chunk = Math.Min(BlockSize - offset, bytes.Length - done);
                bytes.Slice(done, chunk).CopyTo(Block(at).AsSpan(offset));
                done += chunk;
            }
        }

        private byte[] Block(ulong address)
        {
            var (leafIndex, pageIndex, blockIndex) = Locate(address);
            var leaf = Root[leafIndex];
            if (ReferenceEquals(leaf, source[leafIndex]))
            {
                leaf = Root[leafIndex] = Arrays.Copied(leaf);
            }
            var page = leaf[pageIndex];
            if (ReferenceEquals(page, source[leafIndex][pageIndex]))
            {
                page = leaf[pageIndex] = Arrays.Copied(page);
            }
            var block = page[blockIndex];
            if (ReferenceEquals(block, source[leafIndex][pageIndex][blockIndex]))
            {
                block = page[blockIndex] = Arrays.Copied(block);
            }
            return block;
        }
    }
}

/// <summary>One value of <see cref="GuestMemory.WriteInPage"/>: 4 or 8 bytes at an offset inside the page.</summary>
/// <param name="Offset">Byte offset in the page.</param>
/// <param name="Size">4 or 8.</param>
/// <param name="Value">The value, little-endian.</param>
public readonly record struct PageWrite(int Offset, int Size, ulong Value);
