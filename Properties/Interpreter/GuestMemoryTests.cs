using CpuidFunctional.Interpreter.Execution;
using CpuidFunctional.Interpreter.Machine;
using System.Collections.Immutable;
using CpuidFunctional.Properties.Equivalence;
using CsCheck;

namespace CpuidFunctional.Properties.Interpreter;

/// <summary>
/// Guest memory is persistent and copies 64-byte blocks on write, keeping the page written last beside its radix: it
/// reads like one flat array of bytes whichever page is hot, an older version never sees a later write, and a page's
/// identity (what the decode cache checks) changes exactly when one of its bytes changes.
/// </summary>
public class GuestMemoryTests
{
    private abstract record MemoryWrite
    {
        public sealed record Value(ulong Address, int Size, ulong Bits) : MemoryWrite;

        public sealed record Bytes(ulong Address, byte[] Data) : MemoryWrite;

        public sealed record InPage(ulong Page, PageWrite[] Writes) : MemoryWrite;
    }

    // Addresses near block (64 B), group (512 B) and page (4 KiB) boundaries, near the end of memory, and anywhere.
    private static readonly Gen<ulong> Address = Gen.OneOf(
        Gen.Int[0, 255].Select(Gen.Int[-9, 9], (block, delta) => (ulong)Math.Clamp((block * 64) + delta, 0, 0x4000 - 8)),
        Gen.Int[-9, -1].Select(delta => (ulong)((long)MachineLayout.MemorySize + delta)),
        Gen.ULong[0, MachineLayout.MemorySize - 600]
    );

    private static readonly Gen<MemoryWrite> Write = Gen.OneOf<MemoryWrite>(
        Address.Select(Gen.OneOf(1, 2, 4, 8), Gen.ULong, (a, size, bits) => (MemoryWrite)new MemoryWrite.Value(Math.Min(a, MachineLayout.MemorySize - (ulong)size), size, bits)),
        Address.Select(Gen.Byte.Array[1, 600], (a, data) => (MemoryWrite)new MemoryWrite.Bytes(Math.Min(a, MachineLayout.MemorySize - (ulong)data.Length), data)),
        Gen.ULong[0, (MachineLayout.MemorySize >> 12) - 1]
            .Select(Gen.Select(Gen.Int[0, 511], Gen.OneOf(4, 8), Gen.ULong, (slot, size, bits) => new PageWrite(slot * 8, size, bits)).Array[1, 12],
                (page, writes) => (MemoryWrite)new MemoryWrite.InPage(page << 12, writes))
    );

    private static GuestMemory Apply(GuestMemory m, MemoryWrite w) => w switch
    {
        MemoryWrite.Value v => m.Write(v.Address, v.Size, v.Bits),
        MemoryWrite.Bytes b => m.WriteBytes(b.Address, b.Data),
        MemoryWrite.InPage p => m.WriteInPage(p.Page, p.Writes),
        _ => throw new System.Diagnostics.UnreachableException(),
    };

    // The model: the bytes written so far, by address (every other byte is zero).
    private static ImmutableDictionary<ulong, byte> Apply(ImmutableDictionary<ulong, byte> flat, MemoryWrite w) => w switch
    {
        MemoryWrite.Value v => Put(flat, v.Address, BitConverter.GetBytes(v.Bits).AsSpan(0, v.Size).ToArray()),
        MemoryWrite.Bytes b => Put(flat, b.Address, b.Data),
        MemoryWrite.InPage p => p.Writes.Aggregate(flat, (f, x) => Put(f, p.Page + (ulong)x.Offset, BitConverter.GetBytes(x.Value).AsSpan(0, x.Size).ToArray())),
        _ => throw new System.Diagnostics.UnreachableException(),
    };

    private static ImmutableDictionary<ulong, byte> Put(ImmutableDictionary<ulong, byte> flat, ulong address, byte[] data) =>
        flat.SetItems(data.Select((b, i) => KeyValuePair.Create(address + (ulong)i, b)));

    private static IEnumerable<ulong> Touched(MemoryWrite w) => w switch
    {
        MemoryWrite.Value v => [v.Address, v.Address + (ulong)v.Size - 1],
        MemoryWrite.Bytes b => Enumerable.Range(0, b.Data.Length).Select(i => b.Address + (ulong)i),
        MemoryWrite.InPage p => [p.Page],
        _ => throw new System.Diagnostics.UnreachableException(),
    };

    [Fact]
    public void Any_sequence_of_writes_reads_back_like_a_flat_byte_array_and_leaves_older_versions_unchanged()
    {
        Gen.Select(Write.Array[1, 12], Address.Array[8], Gen.OneOf(1, 2, 4, 8))
            .Sample(
                (writes, reads, size) =>
                {
                    var flat = ImmutableDictionary<ulong, byte>.Empty;
                    var memory = GuestMemory.Empty;
                    var versions = new List<(GuestMemory Memory, ImmutableDictionary<ulong, byte> Flat)> { (memory, flat) };
                    foreach (var w in writes)
                    {
                        (memory, flat) = (Apply(memory, w), Apply(flat, w));
                        versions.Add((memory, flat));
                    }
                    var addresses = reads.Concat(writes.SelectMany(Touched)).Select(a => Math.Min(a, MachineLayout.MemorySize - (ulong)size));
                    return versions.All(v => addresses.All(a =>
                        v.Memory.Read(a, size) == FlatRead(v.Flat, a, size) && v.Memory.ReadByte(a) == v.Flat.GetValueOrDefault(a)));
                },
                iter: Budget.Iter(300)
            );
    }

    [Fact]
    public void A_write_gives_new_identities_to_the_pages_whose_bytes_it_changes_and_keeps_every_other_pages_identity()
    {
        var first = new MemoryWrite.Value(0x1_0000, 8, 1);
        Write.Sample(
            w =>
            {
                var before = Apply(GuestMemory.Empty, first);
                var after = Apply(before, w);
                var flatBefore = Apply(ImmutableDictionary<ulong, byte>.Empty, first);
                var changed = Apply(flatBefore, w).Where(b => flatBefore.GetValueOrDefault(b.Key) != b.Value).Select(b => b.Key >> 12).ToHashSet();
                return Enumerable.Range(0, (int)(MachineLayout.MemorySize >> 12)).All(n =>
                    ReferenceEquals(before.PageOrNull((ulong)n), after.PageOrNull((ulong)n)) != changed.Contains((ulong)n));
            },
            iter: Budget.Iter(300)
        );
    }

    [Fact]
    public void Writing_the_bytes_that_are_already_there_returns_the_same_memory()
    {
        Write.Where(w => w is not MemoryWrite.InPage).Sample(
            w =>
            {
                var once = Apply(GuestMemory.Empty.Write(0x1_0000, 8, 1), w);
                return ReferenceEquals(Apply(once, w), once);
            },
            iter: Budget.Iter(300)
        );
        var m = GuestMemory.Empty.Write(0x5F8, 8, 0x1234);
        Assert.Same(m, m.WriteInPage(0, [new(0x5F8, 8, 0x1234), new(0x70, 4, 0)]));
        Assert.NotSame(m, m.WriteInPage(0, [new(0x5F8, 8, 0x1234), new(0x70, 4, 0x72)]));
    }

    [Fact]
    public void A_value_that_straddles_two_blocks_or_two_pages_reads_back_whole()
    {
        var m = GuestMemory.Empty.Write(0x0FC, 8, 0x1122_3344_5566_7788).Write(0x1FFD, 8, 0x99AA_BBCC_DDEE_FF00);
        Assert.Equal(0x1122_3344_5566_7788ul, m.Read(0x0FC, 8));
        Assert.Equal(0x99AA_BBCC_DDEE_FF00ul, m.Read(0x1FFD, 8));
        Assert.Equal(0x5566_7788ul, m.Read(0x0FC, 4));
        Assert.Equal(0x1122_3344ul, m.Read(0x100, 4));
        Assert.Equal(0ul, GuestMemory.Empty.Read(0x1FFD, 8));
    }

    [Fact]
    public void The_last_page_of_memory_is_the_last_one_with_an_identity()
    {
        Assert.NotNull(GuestMemory.Empty.PageOrNull((MachineLayout.MemorySize >> 12) - 1));
        Assert.Null(GuestMemory.Empty.PageOrNull(MachineLayout.MemorySize >> 12));
    }

    private static ulong FlatRead(ImmutableDictionary<ulong, byte> flat, ulong address, int size) =>
        Enumerable.Range(0, size).Aggregate(0ul, (value, i) => value | ((ulong)flat.GetValueOrDefault(address + (ulong)i) << (8 * i)));

    // Writes to one page, a few offsets apart, so a sequence of them repeats and alternates the way a vmcb12 page does.
    private static readonly Gen<MemoryWrite> PageLocalWrite = Gen.OneOf<MemoryWrite>(
        Gen.Select(Gen.OneOf(0x78, 0x80, 0x1F8, 0x200, 0x5F8, 0x600), Gen.OneOf(4, 8), Gen.ULong[0, 3], (offset, size, bits) =>
            (MemoryWrite)new MemoryWrite.Value(0x3000 + (ulong)offset, size, bits)),
        Gen.Select(Gen.OneOf(0x78, 0x80, 0x1F8, 0x5F8), Gen.OneOf(4, 8), Gen.ULong[0, 3], (offset, size, bits) => new PageWrite(offset, size, bits)).Array[1, 4]
            .Select(writes => (MemoryWrite)new MemoryWrite.InPage(0x3000, writes))
    );

    private static GuestMemory Apply(MemoryVersions versions, GuestMemory m, MemoryWrite w) => w switch
    {
        MemoryWrite.Value v => versions.Write(m, v.Address, v.Size, v.Bits),
        MemoryWrite.InPage p => versions.WriteInPage(m, p.Page, p.Writes),
        _ => Apply(m, w),
    };

    [Fact]
    public void Writes_through_a_runs_memory_versions_read_back_like_plain_writes_however_often_they_repeat()
    {
        Gen.Select(PageLocalWrite.Array[1, 4], Gen.Int[0, 3].Array[4, 24])
            .Sample(
                (pool, picks) =>
                {
                    var versions = new MemoryVersions();
                    var (plain, reused) = (GuestMemory.Empty, GuestMemory.Empty);
                    var flat = ImmutableDictionary<ulong, byte>.Empty;
                    foreach (var w in picks.Select(k => pool[k % pool.Length]))
                    {
                        (plain, reused, flat) = (Apply(plain, w), Apply(versions, reused, w), Apply(flat, w));
                        for (var a = 0x3000ul; a < 0x4000; a++)
                        {
                            var expected = flat.GetValueOrDefault(a);
                            if (reused.ReadByte(a) != expected || plain.ReadByte(a) != expected)
                            {
                                return false;
                            }
                        }
                    }
                    return true;
                },
                iter: Budget.Iter(200)
            );
    }

    [Fact]
    public void A_run_gets_back_the_memory_it_made_when_l1s_save_rip_write_and_the_vmexit_repeat()
    {
        var versions = new MemoryVersions();
        PageWrite[] vmexit = [new(0x78, 4, 0x72), new(0x578, 8, 0x1000), new(0x5F8, 8, 0x2000)];
        var m0 = versions.WriteInPage(GuestMemory.Empty, 0x3000, vmexit);
        var l1 = versions.Write(m0, 0x3578, 8, 0x1002);
        var exited = versions.WriteInPage(l1, 0x3000, vmexit);
        var l1Again = versions.Write(exited, 0x3578, 8, 0x1002);
        Assert.Same(l1, l1Again);
        Assert.Same(exited, versions.WriteInPage(l1Again, 0x3000, vmexit));
        Assert.Equal(0x1002ul, l1Again.Read(0x3578, 8));
        Assert.Equal(0x1000ul, exited.Read(0x3578, 8));
    }

    [Fact]
    public void A_version_is_not_taken_for_a_write_when_a_byte_outside_the_write_differs()
    {
        var basis = GuestMemory.Empty.Write(0x3578, 8, 0x1000);
        var made = basis.Write(0x3578, 8, 0x1002);
        Assert.True(made.IsWriteInPageOf(basis, 0x3000, [new(0x578, 8, 0x1002)]));
        Assert.False(made.Write(0x3570, 1, 0xFF).IsWriteInPageOf(basis, 0x3000, [new(0x578, 8, 0x1002)])); // same block
        Assert.False(made.Write(0x3100, 1, 0xFF).IsWriteInPageOf(basis, 0x3000, [new(0x578, 8, 0x1002)])); // another group
        Assert.False(made.Write(0x3500, 1, 0xFF).IsWriteInPageOf(basis, 0x3000, [new(0x578, 8, 0x1002)])); // same group, another block
        Assert.False(made.IsWriteInPageOf(basis, 0x3000, [new(0x578, 8, 0x1003)]));
        Assert.False(made.Write(0x5000, 1, 1).IsWriteInPageOf(basis, 0x3000, [new(0x578, 8, 0x1002)])); // another page hot
    }
}
