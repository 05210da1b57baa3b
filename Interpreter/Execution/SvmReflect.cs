using CpuidFunctional.Interpreter.Machine;

namespace CpuidFunctional.Interpreter.Execution;

/// <summary>
/// The one place that decides whether something L2 does under nested SVM is L1's: KVM's <c>nested_svm_exit_handled</c>
/// (<c>nested_svm_intercept</c>), asked before any of L0's handlers runs, beside <see cref="VmxReflect"/> and feeding
/// the same <see cref="Reflection"/> union. CPUID and XSETBV are decided by Core (<see cref="Kvm.NestedSvmIntercept"/>,
/// from the intercepts VMRUN gave it); the rest from the vmcb12 VMRUN cached and, for MSRs and ports, the permission
/// maps in guest memory. The exit code goes in <see cref="Reflection.ExitToL1.Reason"/>, EXITINFO1 in its
/// qualification.
/// </summary>
internal static class SvmReflect
{
    private static readonly Reflection HandleHere = Reflection.HandleHere.Instance;
    private static readonly Reflection Cpuid = new Reflection.ExitToL1((uint)SvmExitCode.Cpuid);
    private static readonly Reflection Xsetbv = new Reflection.ExitToL1((uint)SvmExitCode.Xsetbv);
    private static readonly Reflection UdFirst = new Reflection.Fault(X86Exception.UD);

    /// <summary>Whether instruction <paramref name="i"/>, about to execute in L2, exits to L1, faults first, or is L0's.</summary>
    public static Reflection L1WantsExit(in Cpu c, Insn i)
    {
        var vmcb = c.Svm.Vmcb!;
        return i.Op switch
        {
            Op.Cpuid => Kvm.NestedSvmIntercept(c.Kvm.Vcpu, Vmcb12Intercepts.Cpuid) ? Cpuid : HandleHere,
            // #UD without CR4.OSXSAVE comes before the intercept.
            Op.Xsetbv => (c.Cr4 & Cr4.OsXsave) == 0 ? UdFirst
                : Kvm.NestedSvmIntercept(c.Kvm.Vcpu, Vmcb12Intercepts.Xsetbv) ? Xsetbv
                : HandleHere,
            Op.Rdmsr or Op.Wrmsr => ExitHandledMsr(c, vmcb, write: i.Op == Op.Wrmsr),
            Op.MovToCr => vmcb.InterceptsCrWrite(i.A.Register)
                ? new Reflection.ExitToL1((uint)(SvmExitCode.WriteCr0 + (ulong)i.A.Register), CrAccessInfo(i.B.Register))
                : i.A.Register == 0 && IsSelectiveCr0Write(vmcb.Word3, c.Cr0, Operands.ReadGpr(c, i.B))
                    ? new Reflection.ExitToL1((uint)SvmExitCode.Cr0SelectiveWrite, CrAccessInfo(i.B.Register))
                    : HandleHere,
            Op.MovFromCr => vmcb.InterceptsCrRead(i.B.Register)
                ? new Reflection.ExitToL1((uint)(SvmExitCode.ReadCr0 + (ulong)i.B.Register), CrAccessInfo(i.A.Register))
                : HandleHere,
            Op.Hlt => Word3(vmcb, Vmcb12.InterceptHlt, SvmExitCode.Hlt),
            Op.In or Op.Out => ExitHandledIo(c, vmcb, i),
            // VMRUN is a mandatory intercept (nested_vmcb_check_controls refuses a vmcb12 without it).
            Op.Vmrun => new Reflection.ExitToL1((uint)SvmExitCode.Vmrun),
            Op.Vmmcall => (vmcb.Word4 & Vmcb12.InterceptVmmcall) != 0 ? new Reflection.ExitToL1((uint)SvmExitCode.Vmmcall) : UnhandledVmmcall(c, vmcb),
            Op.Vmload => Word4(vmcb, Vmcb12.InterceptVmload, SvmExitCode.Vmload),
            Op.Vmsave => Word4(vmcb, Vmcb12.InterceptVmsave, SvmExitCode.Vmsave),
            Op.Stgi => Word4(vmcb, Vmcb12.InterceptStgi, SvmExitCode.Stgi),
            Op.Clgi => Word4(vmcb, Vmcb12.InterceptClgi, SvmExitCode.Clgi),
            _ => HandleHere,
        };
    }

    /// <summary>
    /// Whether an exception raised in L2 exits to L1 (<c>nested_svm_is_exception_vmexit</c>: its bit in vmcb12's
    /// exception intercepts; EXITINFO1 is the error code, 0 for #GP(0)). An exception L1 does not intercept has no
    /// IDT to go through here, so it is a triple fault: SVM_EXIT_SHUTDOWN if L1 intercepts shutdown.
    /// </summary>
    public static Reflection L1WantsException(in Cpu c, X86Exception vector)
    {
        var vmcb = c.Svm.Vmcb!;
        if (vmcb.InterceptsException((int)vector))
        {
            return new Reflection.ExitToL1((uint)(SvmExitCode.ExceptionBase + (ulong)vector));
        }
        return Word3(vmcb, Vmcb12.InterceptShutdown, SvmExitCode.Shutdown);
    }

    /// <summary>
    /// An L2 VMMCALL L1 does not intercept: a #UD in L2 (which L1 may intercept) where KVM raises one
    /// (<see cref="KernelProfiles.RaisesUdForUnhandledL2Vmmcall"/>, or KVM_X86_QUIRK_FIX_HYPERCALL_INSN disabled, or L1
    /// intercepting the processor's #UD); otherwise L0's, which <see cref="SvmOps.Step"/> stops as the endless
    /// re-execution it is.
    /// </summary>
    private static Reflection UnhandledVmmcall(in Cpu c, Vmcb12 vmcb) =>
        IsUdForUnhandledVmmcall(c.Kvm.Vm.Profile, c.Kvm.Vm.QuirkInEffect(KvmQuirks.FixHypercallInsn), vmcb.InterceptsException((int)X86Exception.UD))
            ? UdFirst
            : HandleHere;

    /// <summary>The decision of <see cref="UnhandledVmmcall"/>, shared with the mutable baseline.</summary>
    internal static bool IsUdForUnhandledVmmcall(KernelProfile profile, bool fixHypercallQuirk, bool l1InterceptsUd) =>
        KernelProfiles.RaisesUdForUnhandledL2Vmmcall(profile) || !fixHypercallQuirk || l1InterceptsUd;

    /// <summary>Why the run stops at an L2 VMMCALL that neither L1 nor a #UD takes: KVM's #UD handler loops on it.</summary>
    internal const string VmmcallLoops =
        "KVM re-executes an L2 VMMCALL L1 does not intercept forever (FIX_HYPERCALL_INSN rewrites it into itself)";

    /// <summary>
    /// <c>check_selective_cr0_intercepted</c>: under vmcb12's selective CR0 intercept (word 3 bit 5), a MOV to CR0 that
    /// changes any bit but TS and MP exits with SVM_EXIT_CR0_SEL_WRITE (the plain CR0 write intercept comes first).
    /// </summary>
    internal static bool IsSelectiveCr0Write(uint word3, ulong cr0, ulong value) =>
        (word3 & Vmcb12.InterceptSelectiveCr0) != 0 && ((cr0 ^ value) & ~Cr0SelectiveMask) != 0;

    private const ulong Cr0SelectiveMask = (1ul << 3) | (1ul << 1); // CR0.TS, CR0.MP

    /// <summary>EXITINFO1 of an intercepted MOV to or from CR with decode assists: bit 63 (a MOV CRn), the GPR in bits 3:0.</summary>
    internal static ulong CrAccessInfo(int gpr) => (1ul << 63) | (uint)gpr;

    private static Reflection Word3(Vmcb12 vmcb, uint bit, ulong code) =>
        (vmcb.Word3 & bit) != 0 ? new Reflection.ExitToL1((uint)code) : HandleHere;

    private static Reflection Word4(Vmcb12 vmcb, uint bit, ulong code) =>
        (vmcb.Word4 & bit) != 0 ? new Reflection.ExitToL1((uint)code) : HandleHere;

    /// <summary>
    /// <c>nested_svm_exit_handled_msr</c>: with MSR_PROT, the MSR permission map (bits 11:0 of its address ignored) decides (two bits per MSR, read then
    /// write, in three 2 KiB ranges: 0–0x1FFF, 0xC0000000–0xC0001FFF, 0xC0010000–0xC0011FFF); an MSR outside them
    /// always exits. EXITINFO1 is 0 for RDMSR, 1 for WRMSR.
    /// </summary>
    private static Reflection ExitHandledMsr(in Cpu c, Vmcb12 vmcb, bool write)
    {
        if ((vmcb.Word3 & Vmcb12.InterceptMsrProt) == 0)
        {
            return HandleHere;
        }
        var exit = new Reflection.ExitToL1((uint)SvmExitCode.Msr, write ? 1ul : 0ul);
        if (MsrpmBit(c.Gprs[Registers.Rcx] & 0xFFFF_FFFF, write) is not { } bit)
        {
            return exit;
        }
        var at = (vmcb.MsrpmBasePa & ~0xFFFul) + (bit / 8);
        return !c.Memory.Contains(at, 1) || ((c.Memory.ReadByte(at) >> (int)(bit % 8)) & 1) != 0 ? exit : HandleHere;
    }

    /// <summary>The bit of an MSR access in the MSR permission map, or null outside its three ranges.</summary>
    internal static ulong? MsrpmBit(ulong msr, bool write)
    {
        ulong? range = msr switch
        {
            <= 0x1FFF => 0,
            >= 0xC000_0000 and <= 0xC000_1FFF => 0x800,
            >= 0xC001_0000 and <= 0xC001_1FFF => 0x1000,
            _ => null,
        };
        return range is { } offset ? (offset * 8) + ((msr & 0x1FFF) * 2) + (write ? 1ul : 0ul) : null;
    }

    /// <summary>
    /// <c>nested_svm_intercept_ioio</c>: with IOIO_PROT, the bits of the I/O permission map for every port the access
    /// touches (the port and the next size − 1) decide; any set bit, or a map byte outside memory, exits. EXITINFO1
    /// (APM IOIO): port in bits 31:16, operand size one-hot in bits 6:4, bit 0 set for IN.
    /// </summary>
    private static Reflection ExitHandledIo(in Cpu c, Vmcb12 vmcb, Insn i)
    {
        if ((vmcb.Word3 & Vmcb12.InterceptIoioProt) == 0)
        {
            return HandleHere;
        }
        var (port, _) = Operands.IoPort(c, i);
        var at = (vmcb.IopmBasePa & ~0xFFFul) + ((ulong)port / 8);
        var length = IoPermissionBytes(port, i.OpSize);
        if (c.Memory.Contains(at, length) && (c.Memory.Read(at, length) & IoPermissionMask(port, i.OpSize)) == 0)
        {
            return HandleHere;
        }
        return new Reflection.ExitToL1((uint)SvmExitCode.Ioio, IoioExitInfo1(port, i.OpSize, i.Op == Op.In));
    }

    /// <summary>
    /// EXITINFO1 of SVM_EXIT_IOIO (APM vol. 2, 15.10.2): the port in bits 31:16, the one-hot address size in bits 9:7
    /// (A64, bit 9, for the model's 64-bit L2), the one-hot operand size in bits 6:4, bit 0 for IN. EXITINFO2 is the
    /// next instruction's address (<see cref="SvmNested.ExitInfo2"/>).
    /// </summary>
    internal static ulong IoioExitInfo1(ushort port, int size, bool isIn) =>
        ((ulong)port << 16) | IoioAddress64 | ((ulong)size << 4) | (isIn ? 1ul : 0ul);

    private const ulong IoioAddress64 = 1ul << 9;

    /// <summary>How many I/O permission map bytes an access of <paramref name="size"/> bytes at a port spans: 1 or 2.</summary>
    internal static int IoPermissionBytes(ushort port, int size) => (port % 8) + size > 8 ? 2 : 1;

    /// <summary>The bits of those bytes (little-endian) that belong to the access's ports.</summary>
    internal static ulong IoPermissionMask(ushort port, int size) => (0xFul >> (4 - size)) << (port % 8);
}
