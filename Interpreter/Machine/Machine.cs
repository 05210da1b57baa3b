namespace CpuidFunctional.Interpreter.Machine;

/// <summary>
/// A snapshot of the whole machine: the registers of the running level, CR0, EFER and PKRU (which L0 keeps for the
/// running level), which level runs, guest memory, L1's VMX state, and Core's <see cref="KvmState"/> (CR4, XCR0, MSRs,
/// the CPUID table and its pending-update marker). Immutable: a run starts from one snapshot and returns a new one
/// that shares everything unchanged (memory pages, vmcs12 versions, the Core records); in between, the run loop works
/// on a private copy (<see cref="Cpu"/>) so an instruction does not rebuild the whole snapshot.
/// </summary>
public readonly struct Machine
{
    /// <summary>The registers of the level that runs (L1 and L2 share the general-purpose registers).</summary>
    public Registers Regs { get; init; }

    /// <summary>CR0 of the running level.</summary>
    public ulong Cr0 { get; init; }

    /// <summary>IA32_EFER of the running level.</summary>
    public ulong Efer { get; init; }

    /// <summary>PKRU (not switched by VM entries and exits).</summary>
    public uint Pkru { get; init; }

    /// <summary>L2 runs (VMX non-root operation).</summary>
    public bool InL2 { get; init; }

    /// <summary>The VMM has done its KVM_SET_SREGS and KVM_RUN (the first run of a booted machine does them).</summary>
    public bool Started { get; init; }

    /// <summary>Guest memory.</summary>
    public GuestMemory Memory { get; init; }

    /// <summary>L1's VMX state.</summary>
    public VmxState Vmx { get; init; }

    /// <summary>L1's SVM state (VM_HSAVE_PA, GIF, the running vmcb12 and L1's saved registers).</summary>
    public SvmState Svm { get; init; }

    /// <summary>Core's view of the vCPU and VM.</summary>
    public KvmState Kvm { get; init; }

    /// <summary>1 or 2.</summary>
    public int Level => InL2 ? 2 : 1;

    /// <summary>CR4 of the running level (kept by Core).</summary>
    public ulong Cr4 => Kvm.Vcpu.Cr4;

    /// <summary>
    /// A machine with <paramref name="program"/> loaded at <see cref="MachineLayout.LoadAddress"/>, RIP there, RSP at
    /// <see cref="MachineLayout.InitialRsp"/>, CR0 and EFER as documented, and <paramref name="kvm"/> as Core's state.
    /// The first run starts with the VMM's KVM_SET_SREGS (CR4 = <see cref="MachineLayout.InitialCr4"/>) and KVM_RUN.
    /// </summary>
    public static Machine Boot(Program program, KvmState kvm) =>
        new()
        {
            Regs = Registers.Initial(MachineLayout.LoadAddress, MachineLayout.InitialRsp, MachineLayout.InitialRflags),
            Cr0 = MachineLayout.InitialCr0,
            Efer = MachineLayout.InitialEfer,
            Memory = GuestMemory.Empty.WriteBytes(MachineLayout.LoadAddress, program.Bytes.AsSpan()),
            Vmx = VmxState.Off,
            Svm = SvmState.Off,
            Kvm = kvm,
        };
}
