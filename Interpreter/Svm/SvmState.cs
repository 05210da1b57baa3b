namespace CpuidFunctional.Interpreter.Svm;

/// <summary>
/// L1's SVM state as L0 keeps it: VM_HSAVE_PA, the global interrupt flag, and while L2 runs the vmcb12 VMRUN took
/// (its address and cached fields) and L1's registers saved in vmcb01 (CR4 is Core's, <see cref="NestedSvm"/>). A
/// value type; the vmcb12 record is immutable. EFER.SVME lives in the machine's EFER.
/// </summary>
public readonly record struct SvmState
{
    /// <summary>MSR_VM_HSAVE_PA (0xC0010117): VMRUN is #GP while it is 0 (<c>nested_svm_vmrun</c>).</summary>
    public ulong HsavePa { get; init; }

    /// <summary>GIF: cleared by CLGI and #VMEXIT, set by STGI and VMRUN. Nothing modelled depends on it.</summary>
    public bool Gif { get; init; }

    /// <summary>The vmcb12 of the running L2, or null while L1 runs.</summary>
    public Vmcb12? Vmcb { get; init; }

    /// <summary>The guest-physical address of <see cref="Vmcb"/> (the page VMRUN took from RAX).</summary>
    public ulong VmcbPa { get; init; }

    /// <summary>L1's registers saved at VMRUN (<c>vmcb01-&gt;save</c>), restored by #VMEXIT.</summary>
    public SvmHostState Host { get; init; }

    /// <summary>L2 runs under nested SVM.</summary>
    public bool Running => Vmcb is not null;

    /// <summary>At RESET: VM_HSAVE_PA 0, GIF set, L1 running.</summary>
    public static SvmState Off => new() { Gif = true };
}

/// <summary>
/// The registers VMRUN and #VMEXIT switch besides CR4: L1's as saved in vmcb01 (RIP is the instruction after VMRUN), or
/// L2's from vmcb12's save area.
/// </summary>
public readonly record struct SvmHostState(ulong Rip, ulong Rsp, ulong Rax, ulong Rflags, ulong Cr0, ulong Efer);
