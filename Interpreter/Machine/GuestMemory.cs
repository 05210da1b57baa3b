using System.Buffers.Binary;
using Block = byte[];
using Group = byte[][];
using Leaf = byte[][][][];
using Page = byte[][][];
using Root = byte[][][][][];

namespace CpuidFunctional.Interpreter.Machine;

/// <summary>
/// Guest-physical memory (<see cref="MachineLayout.MemorySize"/> bytes), persistent: a write returns a new memory that
/// shares everything but the 64-byte blocks whose bytes it changed and the small arrays on their path (a write that
/// changes no byte returns the same memory). A 4 KiB page is a tree of eight groups of eight blocks; blocks never
/// written are one shared zero block. The pages sit in a radix (a root of leaves of pages), except the page written
/// last, the <i>hot</i> page, which the memory holds beside the radix: a write to the hot page copies only that page's
/// path (its group table, a group, a block), not the root and a leaf as well. That is the nested round trip's case,
/// where L1 and the #VMEXIT write the same vmcb12 page again and again. A page's identity (its group table) changes
/// when any of its bytes changes, which is what the decode cache checks. Linear addresses equal physical addresses
/// (identity mapping).
/// </summary>
public sealed class GuestMemory
{
    internal const int PageShift = 12;
    internal const int PageSize = 1 << PageShift;
    internal const ulong PageMask = PageSize - 1;

    // Copy-on-write unit: a cache line. A #VMEXIT's vmcb12 fields touch six blocks in two groups.
    private const int BlockShift = 6;
    private const int BlockSize = 1 << BlockShift;
    private const int BlockMask = BlockSize - 1;
    private const int BlocksPerGroup = 8;
    private const int GroupShift = BlockShift + 3;
    private const int GroupsPerPage = PageSize >> GroupShift;

    // Radix: Leaves leaves of PagesPerLeaf pages.
    private const int PagesPerLeaf = 32;
    private const int Leaves = (int)(MachineLayout.MemorySize / PageSize / PagesPerLeaf);

    private static readonly Block ZeroBlock = new byte[BlockSize];
    private static readonly Group ZeroGroup = Filled(BlocksPerGroup, ZeroBlock);
    private static readonly Page ZeroPage = Filled(GroupsPerPage, ZeroGroup);
    private static readonly Leaf ZeroLeaf = Filled(PagesPerLeaf, ZeroPage);

    // Every page but the hot one, whose slot here may be older than the hot page.
    private readonly Root root;

    // The page written last: page number hotNumber is hot, whatever root holds for it.
    private readonly ulong hotNumber;
    private readonly Page hot;

    private GuestMemory(Root root, ulong hotNumber, Page hot) => (this.root, this.hotNumber, this.hot) = (root, hotNumber, hot);

    /// <summary>All-zero memory.</summary>
    public static GuestMemory Empty { get; } = new(Filled(Leaves, ZeroLeaf), 0, ZeroPage);

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
        var copy = new Copy(this);
        copy.Put(address, bytes);
        return copy.Result;
    }

    /// <summary>
    /// Memory with several little-endian values written into the page at <paramref name="page"/> (which must be inside
    /// memory), copying each block they change once rather than once per value: a #VMEXIT's dozen vmcb12 fields cost at
    /// most one copy of the page's path and of six blocks.
    /// </summary>
    public GuestMemory WriteInPage(ulong page, ReadOnlySpan<PageWrite> writes)
    {
        if (page >> PageShift >= MachineLayout.MemorySize >> PageShift)
        {
            throw new ArgumentOutOfRangeException(nameof(page), "write outside guest memory");
        }
        var copy = new Copy(this);
        Span<byte> bytes = stackalloc byte[8];
        foreach (var w in writes)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(bytes, w.Value);
            copy.Put((page & ~PageMask) + (ulong)w.Offset, bytes[..w.Size]);
        }
        return copy.Result;
    }

    /// <summary>
    /// The object standing for a page's contents, or null outside memory: the same object while the page's bytes stay
    /// the same, a new one after any of them changes (the decode cache's validity check).
    /// </summary>
    internal object? PageOrNull(ulong number) => number < MachineLayout.MemorySize >> PageShift ? PageAt(number) : null;

    private Page PageAt(ulong number) => PageIn(root, hotNumber, hot, number);

    /// <summary>
    /// Whether this memory is what <c>basis.WriteInPage(page, writes)</c> makes, by content: the same radix, the page
    /// hot in both, and this hot page equal to basis's with the writes applied. A block or group that no write touches
    /// must be the very object basis has (a version made from basis, or from basis's own basis, shares it), so at most
    /// the written blocks' bytes are compared. False means "not known to be equal". Lets a run reuse a version it made.
    /// </summary>
    internal bool IsWriteInPageOf(GuestMemory basis, ulong page, ReadOnlySpan<PageWrite> writes)
    {
        var number = page >> PageShift;
        if (!ReferenceEquals(root, basis.root) || hotNumber != number || basis.hotNumber != number)
        {
            return false;
        }
        var groups = 0u;
        foreach (var w in writes)
        {
            if (w.Offset < 0 || w.Size is < 1 or > 8 || w.Offset + w.Size > PageSize)
            {
                return false;
            }
            groups |= (1u << (w.Offset >> GroupShift)) | (1u << ((w.Offset + w.Size - 1) >> GroupShift));
        }
        Span<byte> expected = stackalloc byte[BlockSize];
        Span<byte> value = stackalloc byte[8];
        for (var g = 0; g < GroupsPerPage; g++)
        {
            if ((groups & (1u << g)) == 0)
            {
                if (!ReferenceEquals(hot[g], basis.hot[g]))
                {
                    return false;
                }
                continue;
            }
            for (var b = 0; b < BlocksPerGroup; b++)
            {
                var start = ((g * BlocksPerGroup) + b) * BlockSize;
                var (mine, theirs) = (hot[g][b], basis.hot[g][b]);
                if (!AnyWriteIn(writes, start))
                {
                    if (!ReferenceEquals(mine, theirs))
                    {
                        return false;
                    }
                    continue;
                }
                theirs.CopyTo(expected);
                foreach (var w in writes)
                {
                    var from = Math.Max(w.Offset, start);
                    var to = Math.Min(w.Offset + w.Size, start + BlockSize);
                    if (from < to)
                    {
                        BinaryPrimitives.WriteUInt64LittleEndian(value, w.Value);
                        value.Slice(from - w.Offset, to - from).CopyTo(expected[(from - start)..]);
                    }
                }
                if (!expected.SequenceEqual(mine))
                {
                    return false;
                }
            }
        }
        return true;
    }

    /// <summary>Whether any of the page writes touches the block starting at page offset <paramref name="start"/>.</summary>
    private static bool AnyWriteIn(ReadOnlySpan<PageWrite> writes, int start)
    {
        foreach (var w in writes)
        {
            if (w.Offset < start + BlockSize && w.Offset + w.Size > start)
            {
                return true;
            }
        }
        return false;
    }

    private Block Block(ulong address) => BlockIn(PageAt(address >> PageShift), address);

    /// <summary>A page of a memory made of a radix and a hot page.</summary>
    private static Page PageIn(Root root, ulong hotNumber, Page hot, ulong number) => number == hotNumber ? hot : InRadix(root, number);

    /// <summary>A page as a radix holds it (for the hot page, possibly an older version).</summary>
    private static Page InRadix(Root root, ulong number) => root[(int)(number / PagesPerLeaf)][(int)(number % PagesPerLeaf)];

    /// <summary>The block of a page that holds an address.</summary>
    private static Block BlockIn(Page page, ulong address) => page[GroupOf(address)][BlockOf(address)];

    private static int GroupOf(ulong address) => (int)(address >> GroupShift) & (GroupsPerPage - 1);

    private static int BlockOf(ulong address) => (int)(address >> BlockShift) & (BlocksPerGroup - 1);

    private static T[] Filled<T>(int count, T value)
    {
        var array = new T[count];
        Array.Fill(array, value);
        return array;
    }

    /// <summary>
    /// One write's private copy: the hot page's path (its group table, and each group and block the first time the
    /// write reaches it; later reaches reuse that copy), and, when the write moves to another page, the root and leaf
    /// that take the old hot page back into the radix. Nothing is shared with the source memory that is written.
    /// </summary>
    private ref struct Copy(GuestMemory source)
    {
        private Root? root; // a private copy of source.root, made when a page leaves the hot slot
        private ulong hotNumber = source.hotNumber;
        private Page hot = source.hot; // private once hotPrivate
        private Page hotBefore = source.hot; // the hot page as the source memory holds it
        private bool hotPrivate;

        private bool changed;

        /// <summary>The memory written; the source itself when no byte changed.</summary>
        public readonly GuestMemory Result => changed ? new(root ?? source.root, hotNumber, hot) : source;

        /// <summary>Writes bytes into the copy, block by block; a block whose bytes already are these is left shared.</summary>
        public void Put(ulong address, scoped ReadOnlySpan<byte> bytes)
        {
            var done = 0;
            while (done < bytes.Length)
            {
                var at = address + (ulong)done;
                var offset = (int)at & BlockMask;
                var chunk = bytes.Slice(done, Math.Min(BlockSize - offset, bytes.Length - done));
                if (!chunk.SequenceEqual(Current(at).AsSpan(offset, chunk.Length)))
                {
                    chunk.CopyTo(Block(at).AsSpan(offset));
                    changed = true;
                }
                done += chunk.Length;
            }
        }

        /// <summary>The block holding an address as the copy holds it now, for reading.</summary>
        private readonly Block Current(ulong address) => BlockIn(PageIn(root ?? source.root, hotNumber, hot, address >> PageShift), address);

        private Block Block(ulong address)
        {
            var number = address >> PageShift;
            if (number != hotNumber)
            {
                MakeHot(number);
            }
            if (!hotPrivate)
            {
                hot = Arrays.Copied(hot);
                hotPrivate = true;
            }
            var (g, b) = (GroupOf(address), BlockOf(address));
            var group = hot[g];
            if (ReferenceEquals(group, hotBefore[g]))
            {
                group = hot[g] = Arrays.Copied(group);
            }
            var block = group[b];
            if (ReferenceEquals(block, hotBefore[g][b]))
            {
                block = group[b] = Arrays.Copied(block);
            }
            return block;
        }

        /// <summary>Puts the hot page back into the radix (copying the root and its leaf) and makes another page hot.</summary>
        private void MakeHot(ulong number)
        {
            var (l, p) = ((int)(hotNumber / PagesPerLeaf), (int)(hotNumber % PagesPerLeaf));
            var radix = root ?? source.root;
            if (!ReferenceEquals(radix[l][p], hot))
            {
                radix = root ??= Arrays.Copied(source.root);
                if (ReferenceEquals(radix[l], source.root[l]))
                {
                    radix[l] = Arrays.Copied(radix[l]);
                }
                radix[l][p] = hot;
            }
            hotNumber = number;
            hot = hotBefore = InRadix(radix, number);
            hotPrivate = false;
        }
    }
}

/// <summary>One value of <see cref="GuestMemory.WriteInPage"/>: 4 or 8 bytes at an offset inside the page.</summary>
/// <param name="Offset">Byte offset in the page.</param>
/// <param name="Size">4 or 8.</param>
/// <param name="Value">The value, little-endian.</param>
public readonly record struct PageWrite(int Offset, int Size, ulong Value);
