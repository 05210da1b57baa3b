using CpuidFunctional.Interpreter.Execution;
using CpuidFunctional.Interpreter.Machine;
using CpuidFunctional.Interpreter.Svm;

namespace CpuidFunctional.Properties.Interpreter;

/// <summary>
/// VMRUN reads vmcb12 through the run's <see cref="Vmcb12Reads"/>: the same memory version and page give back the
/// record read before, and anything else is read from memory again, so a VMRUN always sees what is in memory.
/// </summary>
public class Vmcb12ReadsTests
{
    private const ulong Page = 0x3000;

    private static readonly GuestMemory Memory = GuestMemory.Empty.Write(Page + Vmcb12.Cr4Offset, 8, 0x20).Write(Page + Vmcb12.RipOffset, 8, 0x1000);

    [Fact]
    public void A_vmrun_from_the_same_memory_version_and_page_gets_the_record_read_before()
    {
        var reads = new Vmcb12Reads();
        var first = reads.Read(Memory, Page);
        Assert.Same(first, reads.Read(Memory, Page));
        Assert.Equal(Vmcb12.Read(Memory, Page), first);
    }

    [Fact]
    public void A_vmrun_from_another_memory_version_reads_what_that_version_holds()
    {
        var reads = new Vmcb12Reads();
        var before = reads.Read(Memory, Page);
        var written = Memory.Write(Page + Vmcb12.RipOffset, 8, 0x1002);
        var after = reads.Read(written, Page);
        Assert.Equal(0x1000ul, before.Rip);
        Assert.Equal(0x1002ul, after.Rip);
        Assert.Same(before, reads.Read(Memory, Page)); // the alternation of a nested SVM loop: both are kept
    }

    [Fact]
    public void A_vmrun_from_another_page_of_the_same_memory_reads_that_page()
    {
        var reads = new Vmcb12Reads();
        var memory = Memory.Write(0x5000 + Vmcb12.Cr4Offset, 8, 0x40);
        Assert.Equal(0x20ul, reads.Read(memory, Page).Cr4);
        Assert.Equal(0x40ul, reads.Read(memory, 0x5000).Cr4);
    }
}
