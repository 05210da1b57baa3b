using CpuidFunctional.Interpreter.Machine;

namespace CpuidFunctional.Interpreter.Execution;

/// <summary>
/// The one place that decides whether something L2 does is L1's to handle: KVM's <c>nested_vmx_l1_wants_exit</c>,
/// which <c>nested_vmx_reflect_vmexit</c> asks before any of L0's handlers runs. Pure: it reads the instruction, L2's
/// registers and CR4, and vmcs12's controls, guest/host masks, read shadows and exception bitmap. The stepper asks
/// <see cref="L1WantsExit"/> once for every instruction L2 executes and <see cref="L1WantsException"/> once for every
/// exception raised in L2; the handlers never ask.
/// </summary>
internal static class VmxReflect
{
    private static readonly Reflection HandleHere = Reflection.HandleHere.Instance;

    // Exits that carry no exit information are the same value every time: one instance each, so the exit of an L2
    // CPUID loop allocates nothing here.
    private static readonly Reflection Cpuid = new Reflection.ExitToL1(ExitReason.Cpuid);
    private static readonly Reflection Xsetbv = new Reflection.ExitToL1(ExitReason.Xsetbv);
    private static readonly Reflection Rdmsr = new Reflection.ExitToL1(ExitReason.Rdmsr);
    private static readonly Reflection Wrmsr = new Reflection.ExitToL1(ExitReason.Wrmsr);
    private static readonly Reflection Hlt = new Reflection.ExitToL1(ExitReason.Hlt);
    private static readonly Reflection Pause = new Reflection.ExitToL1(ExitReason.Pause);
    private static readonly Reflection UdFirst = new Reflection.Fault(X86Exception.UD);

    /// <summary>
    /// Whether instruction <paramref name="i"/>, about to execute in L2, exits to L1 (<c>nested_vmx_l1_wants_exit</c>
    /// by exit reason), faults first, or is L0's to handle. Only the instructions below can exit; the rest (data
    /// instructions, XGETBV, RDPKRU/WRPKRU, MOV from CR0/CR4, whose owned bits read from the shadows) never do.
    /// </summary>
    public static Reflection L1WantsExit(in Cpu c, Insn i) =>
        i.Op switch
        {
            // CPUID, XSETBV and MOV to CR4 are decided by Core (Kvm.NestedVmxL1WantsExit), the rest here.
            Op.Cpuid => Core(c, VmxL2Instruction.Cpuid) is not null ? Cpuid : HandleHere,
            // #UD without CR4.OSXSAVE comes before the exit.
            Op.Xsetbv => (c.Cr4 & Cr4.OsXsave) == 0 ? UdFirst : Core(c, VmxL2Instruction.Xsetbv) is not null ? Xsetbv : HandleHere,
            // nested_vmx_exit_handled_msr: without the use-MSR-bitmaps control every access exits, and L1 is not
            // offered that control (VmxCapabilities.ProcMay1).
            Op.Rdmsr => Rdmsr,
            Op.Wrmsr => Wrmsr,
            Op.MovToCr => ExitHandledCr(c, i),
            Op.Hlt => Has(c, VmxCapabilities.ProcHltExiting) ? Hlt : HandleHere,
            Op.Pause => Has(c, VmxCapabilities.ProcPauseExiting) ? Pause : HandleHere,
            Op.In or Op.Out => ExitHandledIo(c, i),
            // VMX instructions and VMCALL in VMX non-root operation always exit (SDM Vol. 3, 26.1.2).
            var op when op.IsVmxInstruction() => new Reflection.ExitToL1(ExitReason.OfVmxInstruction(op)),
            _ => HandleHere,
        };

    /// <summary>
    /// Whether an exception raised in L2 exits to L1 (the exception case of <c>nested_vmx_l1_wants_exit</c>;
    /// <c>nested_vmx_is_exception_vmexit</c> for one L0 raised), with <see cref="ExceptionInterruptionInfo"/>.
    /// </summary>
    public static Reflection L1WantsException(in Cpu c, X86Exception vector) =>
        IsExceptionVmexit(c.Vmx.Read(VmcsField.ExceptionBitmap), vector)
            ? new Reflection.ExitToL1(ExitReason.ExceptionOrNmi, 0, ExceptionInterruptionInfo(vector))
            : HandleHere;

    /// <summary><c>nested_vmx_is_exception_vmexit</c>: an exception in L2 exits to L1 iff its bit is set in EXCEPTION_BITMAP.</summary>
    internal static bool IsExceptionVmexit(ulong exceptionBitmap, X86Exception vector) =>
        ((exceptionBitmap >> (int)vector) & 1) != 0;

    /// <summary>
    /// The VM-exit interruption information of a hardware exception (SDM Vol. 3, exit information for VM exits due
    /// to vectored events): the vector, type 3 (hardware exception), error code valid for #GP, valid (bit 31).
    /// </summary>
    internal static uint ExceptionInterruptionInfo(X86Exception vector) =>
        (uint)vector | (3u << 8) | (vector == X86Exception.GP ? 1u << 11 : 0) | (1u << 31);

    /// <summary>The exit qualification of a MOV to CR (SDM table 28-3): CR number, access type 0 (MOV to CR), source GPR.</summary>
    internal static ulong CrAccessQualification(int cr, int gpr) => (uint)cr | ((ulong)gpr << 8);

    /// <summary>The exit qualification of IN/OUT (SDM table 28-5): size − 1, direction (1 = IN), immediate operand, port.</summary>
    internal static ulong IoInstructionQualification(int size, bool isIn, bool immediate, ushort port) =>
        (uint)(size - 1) | (isIn ? 1u << 3 : 0u) | (immediate ? 1u << 6 : 0u) | ((uint)port << 16);

    private static uint? Core(in Cpu c, VmxL2Instruction instruction, ulong value = 0) =>
        Kvm.NestedVmxL1WantsExit(c.Kvm.Vcpu, instruction, value);

    private static bool Has(in Cpu c, uint primaryControl) =>
        ((uint)c.Vmx.Read(VmcsField.CpuBasedVmExecControl) & primaryControl) != 0;

    /// <summary>
    /// <c>nested_vmx_exit_handled_cr</c> for MOV to CR0/CR4: an exit iff the value differs from the read shadow in a
    /// bit L1 owns (set in the guest/host mask), with <see cref="CrAccessQualification"/>. CR4 is Core's decision (the
    /// entry gave it vmcs12's CR4 mask and read shadow); CR0, which Core does not model, is decided here.
    /// </summary>
    private static Reflection ExitHandledCr(in Cpu c, Insn i)
    {
        var cr = i.A.Register;
        var value = Operands.ReadGpr(c, i.B);
        var exits = cr == 4
            ? Core(c, VmxL2Instruction.MovToCr4, value) is not null
            : ((value ^ c.Vmx.Read(VmcsField.Cr0ReadShadow)) & c.Vmx.Read(VmcsField.Cr0GuestHostMask)) != 0;
        return exits
            ? new Reflection.ExitToL1(ExitReason.CrAccess, CrAccessQualification(cr, i.B.Register))
            : HandleHere;
    }

    /// <summary>
    /// <c>nested_vmx_exit_handled_io</c>: without I/O bitmaps (not offered to L1), an exit iff unconditional I/O
    /// exiting is set, with <see cref="IoInstructionQualification"/>.
    /// </summary>
    private static Reflection ExitHandledIo(in Cpu c, Insn i)
    {
        if (!Has(c, VmxCapabilities.ProcUnconditionalIoExiting))
        {
            return HandleHere;
        }
        var (port, immediate) = Operands.IoPort(c, i);
        return new Reflection.ExitToL1(ExitReason.IoInstruction, IoInstructionQualification(i.OpSize, i.Op == Op.In, immediate, port));
    }
}
