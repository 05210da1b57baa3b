using CpuidFunctional.Interpreter.Machine;

namespace CpuidFunctional.Interpreter.Execution;

/// <summary>
/// Reuses the vmcb12 a run's VMRUN read before when it reads the same page of the same guest memory version again: a
/// nested SVM loop VMRUNs from one memory version round after round (<see cref="MemoryVersions"/> gives L1's write of
/// save.rip back the version it made last time), and guest memory is immutable, so the same version and page give the
/// same fields. Sharing the record is invisible in the result, as with <see cref="VmcsVersions"/>.
/// </summary>
/// <remarks>Performance: the 112-byte record each VMRUN made (svm-cpuid-loop's bytes per round trip).</remarks>
internal sealed class Vmcb12Reads
{
    private readonly Recent<Made> recent = new(2);

    /// <summary><see cref="Vmcb12.Read"/>, or the record a recent read of the same memory version and page made.</summary>
    public Vmcb12 Read(GuestMemory memory, ulong page) =>
        (recent.Find((memory, page), static (r, k) => ReferenceEquals(r.Memory, k.memory) && r.Page == k.page)
            ?? recent.Remember(new Made(memory, page, Vmcb12.Read(memory, page)))).Vmcb;

    /// <summary>A read made in this run: the memory version and page it read, and what it found.</summary>
    private sealed class Made(GuestMemory memory, ulong page, Vmcb12 vmcb)
    {
        public GuestMemory Memory { get; } = memory;

        public ulong Page { get; } = page;

        public Vmcb12 Vmcb { get; } = vmcb;
    }
}
