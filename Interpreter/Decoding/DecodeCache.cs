using System.Runtime.CompilerServices;
using CpuidFunctional.Interpreter.Machine;

namespace CpuidFunctional.Interpreter.Decoding;

/// <summary>
/// The decode cache: each guest address is decoded once. This is the interpreter's one mutable object and it lives
/// outside every state record. Entries are keyed by RIP and validated by the identity of the 4 KiB page they were
/// decoded from: guest memory is persistent, so a write that changes a code page's bytes produces a new page object
/// (<see cref="GuestMemory.PageOrNull"/>) and the next fetch from it re-decodes (that is the invalidation). A fetch
/// from the very memory version and page of the fetch before it skips looking the page up (a few percent of a round
/// trip, up to 10 % in kvm-like-l1; the cache keeps that one version alive). One cache may serve many runs and machines; it is not
/// thread-safe.
/// </summary>
public sealed class DecodeCache
{
    // Pages decoded so far, by page number; entries are replaced wholesale when their page changes.
    private readonly Dictionary<ulong, CachedPage> pages = [];

    // The page of the previous fetch: straight-line code stays on one page, so most fetches skip the dictionary.
    private CachedPage? last;

    // The memory version whose page `last` was last checked against (null: none). Guest memory is immutable, so while
    // a run fetches from that same version, `last` still holds its page and the check need not be made again.
    private GuestMemory? lastChecked;

    private readonly IcedAdapter adapter = new();

    /// <summary>How many instructions were decoded with Iced (cache misses) since this cache was created.</summary>
    public long Decodes { get; private set; }

    /// <summary>The instruction at <paramref name="rip"/>; null if RIP is outside guest memory.</summary>
    /// <remarks>
    /// Performance: only the loop's case is here, inlined into the caller's step loop; everything else is
    /// <see cref="FetchChecked"/>. As one method, the fast path paid the whole method's prologue (six saved registers)
    /// on every instruction.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal Insn? Fetch(GuestMemory memory, ulong rip) =>
        // The run's loop: the same memory version and page as the previous fetch, and the instruction decoded already.
        ReferenceEquals(memory, lastChecked) && last is { } known && known.Number == rip >> GuestMemory.PageShift
        && known.Slots[(int)(rip & GuestMemory.PageMask)] is { } hit
            ? hit
            : FetchChecked(memory, rip);

    /// <summary><see cref="Fetch"/> when the page must be looked up and checked, or the instruction decoded.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private Insn? FetchChecked(GuestMemory memory, ulong rip)
    {
        var number = rip >> GuestMemory.PageShift;
        var offset = (int)(rip & GuestMemory.PageMask);
        var source = memory.PageOrNull(number);
        if (source is null)
        {
            return null;
        }
        var page = last;
        if (page is null || page.Number != number)
        {
            if (!pages.TryGetValue(number, out page))
            {
                page = new CachedPage(number, source);
                pages.Add(number, page);
            }
            last = page;
        }
        if (!ReferenceEquals(page.Source, source))
        {
            page.Reset(source);
        }
        lastChecked = memory;
        if (page.Slots[offset] is { } cached)
        {
            return cached;
        }
        var decoded = adapter.Decode(memory, rip);
        Decodes++;
        // An instruction that runs into the next page also depends on that page: decode it again every time.
        if (decoded is not null && offset + decoded.Length <= GuestMemory.PageSize)
        {
            page.Slots[offset] = decoded;
        }
        return decoded;
    }

    private sealed class CachedPage(ulong number, object source)
    {
        public ulong Number { get; } = number;

        // The page contents the slots were decoded from; replaced (with the slots) when the page was written.
        public object Source { get; private set; } = source;

        // Decoded instructions by offset in the page; filled on first fetch.
        public Insn?[] Slots { get; private set; } = new Insn?[GuestMemory.PageSize];

        public void Reset(object newSource)
        {
            Source = newSource;
            Slots = new Insn?[GuestMemory.PageSize];
        }
    }
}
