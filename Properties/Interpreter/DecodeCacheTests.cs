using CpuidFunctional.Interpreter.Decoding;
using CpuidFunctional.Interpreter.Machine;

namespace CpuidFunctional.Properties.Interpreter;

/// <summary>
/// The decode cache answers a fetch from the memory version and page of the fetch before it without looking the page
/// up again. Guest memory is immutable, so that is safe only while the version is the very same object: a new version
/// that rewrote the code, or an older one, must be looked up and decoded again.
/// </summary>
public class DecodeCacheTests
{
    private const ulong At = MachineLayout.LoadAddress;
    private static readonly byte[] Nop = [0x90];
    private static readonly byte[] Hlt = [0xF4];

    private static Op OpAt(DecodeCache cache, GuestMemory memory, ulong rip) =>
        cache.Fetch(memory, rip) is { } insn ? insn.Op : throw new InvalidOperationException($"nothing decoded at {rip:x}");

    /// <summary>A fresh cache, a memory version with a NOP at <see cref="At"/>, and the next version, with a HLT there.</summary>
    private static (DecodeCache Cache, GuestMemory Before, GuestMemory After) NopRewrittenAsHlt()
    {
        var before = GuestMemory.Empty.WriteBytes(At, Nop);
        return (new DecodeCache(), before, before.WriteBytes(At, Hlt));
    }

    [Fact]
    public void A_new_memory_version_that_rewrites_the_instruction_is_decoded_again()
    {
        var (cache, before, after) = NopRewrittenAsHlt();
        Assert.Equal(Op.Nop, OpAt(cache, before, At));
        Assert.Equal(Op.Nop, OpAt(cache, before, At));
        Assert.Equal(Op.Hlt, OpAt(cache, after, At));
        Assert.Equal(Op.Nop, OpAt(cache, before, At));
    }

    [Fact]
    public void A_fetch_outside_memory_does_not_leave_the_previous_page_unchecked_for_the_next_version()
    {
        var (cache, before, after) = NopRewrittenAsHlt();
        Assert.Equal(Op.Nop, OpAt(cache, before, At));
        Assert.Null(cache.Fetch(after, MachineLayout.MemorySize + At));
        Assert.Equal(Op.Hlt, OpAt(cache, after, At));
    }

    [Fact]
    public void Fetching_again_from_the_same_version_decodes_nothing()
    {
        var cache = new DecodeCache();
        var memory = GuestMemory.Empty.WriteBytes(At, [0x90, 0x90, 0xF4]);
        for (var rip = At; rip < At + 3; rip++)
        {
            cache.Fetch(memory, rip);
        }
        var decodes = cache.Decodes;
        for (var round = 0; round < 3; round++)
        {
            for (var rip = At; rip < At + 3; rip++)
            {
                cache.Fetch(memory, rip);
            }
        }
        Assert.Equal(decodes, cache.Decodes);
    }
}
