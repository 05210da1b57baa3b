namespace CpuidFunctional.Interpreter.Execution;

/// <summary>
/// Reuses value-equal Core events (and wrapped Core observations) within one run instead of making a new record for
/// every instruction: a loop that executes the same CPUID, XSETBV or VM exit again gets the instance it got last
/// time. The records are immutable and compare by value, so sharing an instance is invisible in the result (the
/// trace holds the same values either way). The cache belongs to the run's <see cref="RunLog"/>, outside every
/// state record, and remembers the two most recent instances of each kind (two, so an alternation such as XCR0
/// 0x3 ↔ 0x7 still hits).
/// </summary>
/// <remarks>Performance: about 64 bytes per round trip of cpuid-loop, more where L1 executes CPUID or XSETBV.</remarks>
internal sealed class EventCache
{
    private readonly Recent<VcpuEvent.Cpuid> cpuid = new();
    private readonly Recent<VcpuEvent.Xsetbv> xsetbv = new();
    private readonly Recent<VcpuEvent.Rdmsr> rdmsr = new();
    private readonly Recent<VcpuEvent.Wrmsr> wrmsr = new();
    private readonly Recent<VcpuEvent.MovToCr4> movToCr4 = new();
    private readonly Recent<VcpuEvent.NestedVmEntry> entry = new();
    private readonly Recent<VcpuEvent.NestedVmExit> exit = new();
    private readonly Recent<VcpuEvent.NestedSvmVmrun> vmrun = new();
    private readonly Recent<RunObservation.Kvm> observed = new();

    public VcpuEvent.Cpuid Cpuid(uint leaf, uint subleaf) =>
        cpuid.Find((leaf, subleaf), static (e, k) => e.Leaf == k.leaf && e.Subleaf == k.subleaf)
        ?? cpuid.Remember(new VcpuEvent.Cpuid(leaf, subleaf));

    public VcpuEvent.Xsetbv Xsetbv(uint index, ulong value) =>
        xsetbv.Find((index, value), static (e, k) => e.Index == k.index && e.Value == k.value)
        ?? xsetbv.Remember(new VcpuEvent.Xsetbv(index, value));

    public VcpuEvent.Rdmsr Rdmsr(uint index) =>
        rdmsr.Find(index, static (e, k) => e.Index == k) ?? rdmsr.Remember(new VcpuEvent.Rdmsr(index));

    public VcpuEvent.Wrmsr Wrmsr(uint index, ulong value) =>
        wrmsr.Find((index, value), static (e, k) => e.Index == k.index && e.Value == k.value)
        ?? wrmsr.Remember(new VcpuEvent.Wrmsr(index, value));

    public VcpuEvent.MovToCr4 MovToCr4(ulong value) =>
        movToCr4.Find(value, static (e, k) => e.Value == k) ?? movToCr4.Remember(new VcpuEvent.MovToCr4(value));

    public VcpuEvent.NestedVmEntry NestedVmEntry(ulong guestCr4, ulong cr4Mask, ulong cr4Shadow, ValueArray<MsrEntry> msrLoad) =>
        entry.Find(
            (guestCr4, cr4Mask, cr4Shadow, msrLoad),
            static (e, k) => e.GuestCr4 == k.guestCr4 && e.Cr4GuestHostMask == k.cr4Mask && e.Cr4ReadShadow == k.cr4Shadow && e.MsrLoad == k.msrLoad)
        ?? entry.Remember(new VcpuEvent.NestedVmEntry(guestCr4, msrLoad) { Cr4GuestHostMask = cr4Mask, Cr4ReadShadow = cr4Shadow });

    public VcpuEvent.NestedVmExit NestedVmExit(ulong hostCr4, ValueArray<MsrEntry> msrLoad) =>
        exit.Find((hostCr4, msrLoad), static (e, k) => e.HostCr4 == k.hostCr4 && e.MsrLoad == k.msrLoad)
        ?? exit.Remember(new VcpuEvent.NestedVmExit(hostCr4, msrLoad));

    public VcpuEvent.NestedSvmVmrun NestedSvmVmrun(ulong saveCr4, Vmcb12Intercepts intercepts) =>
        vmrun.Find((saveCr4, intercepts), static (e, k) => e.SaveCr4 == k.saveCr4 && e.Intercepts == k.intercepts)
        ?? vmrun.Remember(new VcpuEvent.NestedSvmVmrun(saveCr4, intercepts));

    /// <summary>A Core observation wrapped with level and RIP (the same CPUID at the same RIP gives an equal one).</summary>
    public RunObservation.Kvm Observed(int level, ulong rip, Observation value) =>
        observed.Find((level, rip, value), static (o, k) => o.Level == k.level && o.Rip == k.rip && o.Value.Equals(k.value))
        ?? observed.Remember(new RunObservation.Kvm(level, rip, value));
}
