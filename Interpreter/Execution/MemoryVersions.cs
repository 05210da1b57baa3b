using CpuidFunctional.Interpreter.Machine;

namespace CpuidFunctional.Interpreter.Execution;

/// <summary>
/// Reuses the guest memory versions a run made before instead of making an equal one again. A nested SVM round trip
/// writes vmcb12's save.rip twice (L1 skipping the intercepted instruction, then the #VMEXIT storing the guest's RIP),
/// so the vmcb12 page alternates between two contents; each write copied a block, its group and the page table. A
/// write first looks for the same write on the same memory among the ones made last, then for a recent version with
/// the content the write would make (<see cref="GuestMemory.IsWriteInPageOf"/>); only then is a new version made.
/// Versions are immutable and compare by content, so sharing one is invisible in the result, as with
/// <see cref="EventCache"/> and <see cref="VmcsVersions"/>.
/// </summary>
internal sealed class MemoryVersions
{
    private readonly Recent<Made> recent = new(8);

    /// <summary><c>basis.Write(address, size, value)</c>, through <see cref="WriteInPage"/> when it stays in one page.</summary>
    public GuestMemory Write(GuestMemory basis, ulong address, int size, ulong value)
    {
        var offset = address & GuestMemory.PageMask;
        return offset + (ulong)size <= GuestMemory.PageSize && basis.Contains(address, size)
            ? WriteInPage(basis, address & ~GuestMemory.PageMask, [new PageWrite((int)offset, size, value)])
            : basis.Write(address, size, value);
    }

    /// <summary><c>basis.WriteInPage(page, writes)</c>: a recent version equal to it, or a new one.</summary>
    public GuestMemory WriteInPage(GuestMemory basis, ulong page, ReadOnlySpan<PageWrite> writes)
    {
        var key = new Key(basis, page, writes);
        if (recent.Find(key, static (m, k) => ReferenceEquals(m.Basis, k.Basis) && m.Page == k.Page && k.Writes.SequenceEqual(m.Writes)) is { } same)
        {
            return same.Result;
        }
        var result = recent.Find(key, static (m, k) => m.Result.IsWriteInPageOf(k.Basis, k.Page, k.Writes))?.Result
            ?? basis.WriteInPage(page, writes);
        recent.Remember(new Made(basis, page, writes.ToArray(), result));
        return result;
    }

    /// <summary>A write made in this run: the memory it was made on, the write, and the memory it gave.</summary>
    private sealed class Made(GuestMemory basis, ulong page, PageWrite[] writes, GuestMemory result)
    {
        public GuestMemory Basis { get; } = basis;

        public ulong Page { get; } = page;

        public PageWrite[] Writes { get; } = writes;

        public GuestMemory Result { get; } = result;
    }

    private readonly ref struct Key(GuestMemory basis, ulong page, ReadOnlySpan<PageWrite> writes)
    {
        public GuestMemory Basis { get; } = basis;

        public ulong Page { get; } = page;

        public ReadOnlySpan<PageWrite> Writes { get; } = writes;
    }
}
