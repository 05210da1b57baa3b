namespace CpuidFunctional.Interpreter.Machine;

/// <summary>
/// The run loop's working copy of the machine: the one mutable value of a run (the "one small mutable loop" of the
/// Elmish shape). <see cref="Execution.Runner.Run"/> unpacks the immutable <see cref="Machine"/> into a local of this type,
/// the step functions update it in place through <c>ref</c>, and the loop packs it into a new <see cref="Machine"/>
/// snapshot when the run ends. It never escapes the loop. The objects it points to (guest memory, vmcs12, Core's
/// state) stay immutable: a step that changes them stores a reference to a new version.
/// </summary>
/// <remarks>
/// Performance: rewriting a 360-byte snapshot with 19 references per instruction cost about half a round trip
/// (copies plus a GC write barrier per reference); a register write here is one plain store.
/// </remarks>
internal struct Cpu
{
    // Mutable: RAX..R15 of the running level, written by every instruction that writes a register.
    public Gpr16 Gprs;

    // Mutable: written by every instruction.
    public ulong Rip;

    // Mutable: written by instructions that set flags and by VM entries and exits.
    public ulong Rflags;

    // Mutable: MOV to CR0, VM entries and exits.
    public ulong Cr0;

    // Mutable: VM entries and exits.
    public ulong Efer;

    // Mutable: WRPKRU.
    public uint Pkru;

    // Mutable: VM entries and exits.
    public bool InL2;

    // Mutable: set once, when the run applies the VMM's KVM_SET_SREGS and KVM_RUN.
    public bool Started;

    // Mutable reference to immutable memory: replaced by every guest memory write.
    public GuestMemory Memory;

    // Mutable: replaced by the VMX instructions and VM exits (the vmcs12 versions it points to are immutable).
    public VmxState Vmx;

    // Mutable: replaced by the SVM instructions, VM_HSAVE_PA writes and #VMEXITs (the vmcb12 records are immutable).
    public SvmState Svm;

    // Mutable: replaced by every Core event (the KvmState records are immutable).
    public KvmState Kvm;

    /// <summary>1 or 2.</summary>
    public readonly int Level => InL2 ? 2 : 1;

    /// <summary>CR4 of the running level (kept by Core).</summary>
    public readonly ulong Cr4 => Kvm.Vcpu.Cr4;

    /// <summary>The working copy of a snapshot.</summary>
    public static Cpu From(in Machine m)
    {
        var regs = m.Regs;
        return new Cpu
        {
            Gprs = regs.Gprs,
            Rip = regs.Rip,
            Rflags = regs.Rflags,
            Cr0 = m.Cr0,
            Efer = m.Efer,
            Pkru = m.Pkru,
            InL2 = m.InL2,
            Started = m.Started,
            Memory = m.Memory,
            Vmx = m.Vmx,
            Svm = m.Svm,
            Kvm = m.Kvm,
        };
    }

    /// <summary>An immutable snapshot of the current values.</summary>
    public readonly Machine Snapshot() =>
        new()
        {
            Regs = new Registers(Gprs, Rip, Rflags),
            Cr0 = Cr0,
            Efer = Efer,
            Pkru = Pkru,
            InL2 = InL2,
            Started = Started,
            Memory = Memory,
            Vmx = Vmx,
            Svm = Svm,
            Kvm = Kvm,
        };
}
