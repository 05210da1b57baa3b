using CpuidFunctional.Interpreter.Svm;
using CpuidFunctional.Interpreter.Machine;

namespace CpuidFunctional.Bench.Mutable;

/// <summary>
/// Nested SVM: SvmOps', SvmNested's and SvmReflect's rules again, in place. vmcb12 is read into fields at VMRUN (KVM's
/// cached copy, like the functional <see cref="Vmcb12"/>) and the #VMEXIT state written back into the byte array. The
/// pure pieces are theirs: <c>SvmNested.IsValidSaveState</c>, <c>SvmNested.IsValidControls</c>,
/// <c>SvmNested.IsInstructionExit</c>, <c>SvmOps.IsValidEferWrite</c>, <c>SvmOps.HypercallResult</c>,
/// <c>SvmReflect.MsrpmBit</c>, <c>SvmReflect.CrAccessInfo</c>, and the offsets and intercept bits of <see cref="Vmcb12"/>.
/// </summary>
internal sealed partial class MutableMachine
{
    // ---- L1's SVM state (SvmState): assigned by WRMSR, STGI/CLGI, VMRUN and #VMEXIT only ----
    private ulong hsavePa;
    private bool gif = true; // nothing modelled reads it; kept so STGI/CLGI have their effect

    // L2 runs under nested SVM (set by VMRUN, cleared by #VMEXIT): L1's interest is decided by SvmL1WantsExit.
    private bool svmGuest;

    // The vmcb12 VMRUN took (its page and the cached control fields), and L1's registers saved in vmcb01.
    private ulong vmcbPa;
    private uint vmcbCrIntercepts, vmcbExceptionIntercepts, vmcbWord3, vmcbWord4;
    private ulong vmcbIopm, vmcbMsrpm;

    // save.dr7 and save.dr6 as VMRUN loaded them, written back by the #VMEXIT (SvmNested.DebugRegistersAfterVmrun).
    private ulong vmcbDr7, vmcbDr6;
    private ulong hostRip, hostRsp, hostRax, hostRflags, hostCr0, hostEfer;

    // Reflection results besides an exit code (no SVM exit code is this large; VMEXIT_INVALID is never a reflection).
    private const uint SvmHandleHere = uint.MaxValue;
    private const uint SvmUdFirst = uint.MaxValue - 1;

    /// <summary>L2 runs under nested VMX: the VMX exit rules of the other handlers apply (never under nested SVM).</summary>
    private bool VmxGuest => inL2 && !svmGuest;

    /// <summary>
    /// Under nested SVM, before any handler: whether L1 wants <paramref name="i"/> (then the #VMEXIT is done and
    /// <paramref name="stop"/> is its result) or it faults first (#UD for XSETBV without OSXSAVE). False: L0 handles it.
    /// </summary>
    private bool SvmReflected(Insn i, out StopReason? stop)
    {
        var code = SvmL1WantsExit(i, out var info);
        stop = code switch
        {
            SvmHandleHere => null,
            SvmUdFirst => RaiseFault(i, X86Exception.UD),
            _ => SvmVmexit(i, code, info),
        };
        return code != SvmHandleHere;
    }

    /// <summary>SvmReflect.L1WantsExit on this object's fields: an exit code, <see cref="SvmHandleHere"/> or <see cref="SvmUdFirst"/>.</summary>
    private uint SvmL1WantsExit(Insn i, out ulong info)
    {
        info = 0;
        switch (i.Op)
        {
            case Op.Cpuid:
                return Kvm.NestedSvmIntercept(Vmcb12Intercepts.Cpuid) ? (uint)SvmExitCode.Cpuid : SvmHandleHere;
            case Op.Xsetbv:
                return (Kvm.Cr4 & Cr4.OsXsave) == 0 ? SvmUdFirst
                    : Kvm.NestedSvmIntercept(Vmcb12Intercepts.Xsetbv) ? (uint)SvmExitCode.Xsetbv
                    : SvmHandleHere;
            case Op.Rdmsr:
            case Op.Wrmsr:
                return SvmExitHandledMsr(i.Op == Op.Wrmsr, out info);
            case Op.MovToCr:
                if (((vmcbCrIntercepts >> (int)(Vmcb12.CrWriteShift + (uint)i.A.Register)) & 1) != 0)
                {
                    info = SvmReflect.CrAccessInfo(i.B.Register);
                    return (uint)(SvmExitCode.WriteCr0 + (ulong)i.A.Register);
                }
                if (i.A.Register == 0 && SvmReflect.IsSelectiveCr0Write(vmcbWord3, cr0, ReadGpr(i.B)))
                {
                    info = SvmReflect.CrAccessInfo(i.B.Register);
                    return (uint)SvmExitCode.Cr0SelectiveWrite;
                }
                return SvmHandleHere;
            case Op.MovFromCr:
                if (((vmcbCrIntercepts >> i.B.Register) & 1) == 0)
                {
                    return SvmHandleHere;
                }
                info = SvmReflect.CrAccessInfo(i.A.Register);
                return (uint)(SvmExitCode.ReadCr0 + (ulong)i.B.Register);
            case Op.Hlt:
                return (vmcbWord3 & Vmcb12.InterceptHlt) != 0 ? (uint)SvmExitCode.Hlt : SvmHandleHere;
            case Op.In:
            case Op.Out:
                return SvmExitHandledIo(i, out info);
            case Op.Vmrun:
                return (uint)SvmExitCode.Vmrun;
            case Op.Vmmcall:
                return (vmcbWord4 & Vmcb12.InterceptVmmcall) != 0 ? (uint)SvmExitCode.Vmmcall
                    : SvmReflect.IsUdForUnhandledVmmcall(Kvm.Profile, Kvm.FixHypercallQuirk, ((vmcbExceptionIntercepts >> (int)X86Exception.UD) & 1) != 0) ? SvmUdFirst
                    : SvmHandleHere;
            case Op.Vmload:
                return Word4(Vmcb12.InterceptVmload, SvmExitCode.Vmload);
            case Op.Vmsave:
                return Word4(Vmcb12.InterceptVmsave, SvmExitCode.Vmsave);
            case Op.Stgi:
                return Word4(Vmcb12.InterceptStgi, SvmExitCode.Stgi);
            case Op.Clgi:
                return Word4(Vmcb12.InterceptClgi, SvmExitCode.Clgi);
            default:
                return SvmHandleHere;
        }
    }

    private uint Word4(uint bit, ulong code) => (vmcbWord4 & bit) != 0 ? (uint)code : SvmHandleHere;

    private uint SvmExitHandledMsr(bool write, out ulong info)
    {
        info = write ? 1ul : 0ul;
        if ((vmcbWord3 & Vmcb12.InterceptMsrProt) == 0)
        {
            return SvmHandleHere;
        }
        if (SvmReflect.MsrpmBit(gpr[Registers.Rcx] & 0xFFFF_FFFF, write) is not { } bit)
        {
            return (uint)SvmExitCode.Msr;
        }
        var at = (vmcbMsrpm & ~0xFFFul) + (bit / 8);
        return !Contains(at, 1) || ((ReadMemory(at, 1) >> (int)(bit % 8)) & 1) != 0 ? (uint)SvmExitCode.Msr : SvmHandleHere;
    }

    private uint SvmExitHandledIo(Insn i, out ulong info)
    {
        info = 0;
        if ((vmcbWord3 & Vmcb12.InterceptIoioProt) == 0)
        {
            return SvmHandleHere;
        }
        var isIn = i.Op == Op.In;
        var portOperand = isIn ? i.B : i.A;
        var port = (ushort)(portOperand.Kind == OperandKind.Immediate ? portOperand.Value & 0xFF : gpr[Registers.Rdx] & 0xFFFF);
        var at = (vmcbIopm & ~0xFFFul) + ((ulong)port / 8);
        var length = SvmReflect.IoPermissionBytes(port, i.OpSize);
        if (Contains(at, length) && (ReadMemory(at, length) & SvmReflect.IoPermissionMask(port, i.OpSize)) == 0)
        {
            return SvmHandleHere;
        }
        info = SvmReflect.IoioExitInfo1(port, i.OpSize, isIn);
        return (uint)SvmExitCode.Ioio;
    }

    /// <summary>SvmReflect.L1WantsException: the exit code an L2 exception becomes, or null if it stops the run.</summary>
    private uint? SvmExceptionExit(X86Exception vector) =>
        ((vmcbExceptionIntercepts >> (int)vector) & 1) != 0 ? (uint)(SvmExitCode.ExceptionBase + (ulong)vector)
        : (vmcbWord3 & Vmcb12.InterceptShutdown) != 0 ? (uint)SvmExitCode.Shutdown
        : null;

    // ---- the SVM instructions (SvmOps.Step) ----

    private StopReason? SvmStep(Insn i)
    {
        if (i.Op == Op.Vmmcall)
        {
            return inL2 ? new StopReason.Unsupported(2, i.Rip, i.HexBytes, i.Text, SvmReflect.VmmcallLoops) : Hypercall(i);
        }
        if (inL2)
        {
            return new StopReason.Unsupported(2, i.Rip, i.HexBytes, i.Text, "SVM instructions L1 does not intercept in L2 (nested-nested SVM) are not modelled");
        }
        if ((efer & Efer.Svme) == 0)
        {
            return RaiseFault(i, X86Exception.UD);
        }
        if (Kvm.Cpl != 0)
        {
            return RaiseFault(i, X86Exception.GP);
        }
        switch (i.Op)
        {
            case Op.Vmrun:
                return Vmrun(i);
            case Op.Vmload:
            case Op.Vmsave:
                return Contains(VmcbPage(), Vmcb12.Size) ? Next(i) : RaiseFault(i, X86Exception.GP);
            case Op.Stgi:
            case Op.Clgi:
                gif = i.Op == Op.Stgi;
                return Next(i);
            default:
                return new StopReason.Unsupported(Level, i.Rip, i.HexBytes, i.Text, $"no semantics for {i.Op}");
        }
    }

    private ulong VmcbPage() => gpr[Registers.Rax] & ~0xFFFul;

    /// <summary>RDMSR of EFER, VM_HSAVE_PA or VM_CR (SvmOps.Rdmsr).</summary>
    private StopReason? SvmRdmsr(Insn i, uint index)
    {
        var value = index switch
        {
            Msr.Efer => efer,
            Msr.VmHsavePa => hsavePa,
            _ => 0ul,
        };
        gpr[Registers.Rax] = value & 0xFFFF_FFFF;
        gpr[Registers.Rdx] = value >> 32;
        return Next(i);
    }

    /// <summary>WRMSR of EFER, VM_HSAVE_PA or VM_CR (SvmOps.Wrmsr).</summary>
    private StopReason? SvmWrmsr(Insn i, uint index, ulong value)
    {
        switch (index)
        {
            case Msr.Efer:
                if (Efer.Set(efer, cr0, value, hostInitiated: false, Kvm.EferKvmBits, Kvm.AllowedEfer(withSvme: true)) is not { } written)
                {
                    return RaiseFault(i, X86Exception.GP);
                }
                if (inL2 && (value & Efer.Svme) == 0)
                {
                    return new StopReason.Unsupported(2, i.Rip, i.HexBytes, i.Text, "L2 clearing EFER.SVME (svm_set_efer leaves nested mode) is not modelled");
                }
                if (SvmOps.LeavesSvm(efer, value))
                {
                    gif = true;
                }
                efer = written;
                return Next(i);
            case Msr.VmHsavePa:
                if (!VmxOps.PageAddressValid(Kvm.MaxPhysAddr, value))
                {
                    return RaiseFault(i, X86Exception.GP);
                }
                hsavePa = value;
                return Next(i);
            default:
                return new StopReason.Unsupported(Level, i.Rip, i.HexBytes, i.Text, "VM_CR writes are not modelled");
        }
    }

    // ---- VMRUN and #VMEXIT (SvmNested) ----

    private uint Vmcb32(int offset) => (uint)ReadMemory(vmcbPa + (ulong)offset, 4);

    private ulong Vmcb64(int offset) => ReadMemory(vmcbPa + (ulong)offset, 8);

    private StopReason? Vmrun(Insn i)
    {
        if (hsavePa == 0)
        {
            return RaiseFault(i, X86Exception.GP);
        }
        var page = VmcbPage();
        if (!Contains(page, Vmcb12.Size))
        {
            return RaiseFault(i, X86Exception.GP);
        }
        vmcbPa = page;
        if ((Vmcb32(Vmcb12.EventInjOffset) & (1u << 31)) != 0)
        {
            return new StopReason.Unsupported(1, i.Rip, i.HexBytes, i.Text, "VMRUN event injection is not modelled");
        }
        var (l2Efer, l2Cr0, l2Cr4) = (Vmcb64(Vmcb12.EferOffset), Vmcb64(Vmcb12.Cr0Offset), Vmcb64(Vmcb12.Cr4Offset));
        var (word3, word4) = (Vmcb32(Vmcb12.Word3Offset), Vmcb32(Vmcb12.Word4Offset));
        var (iopm, msrpm) = (Vmcb64(Vmcb12.IopmBasePaOffset), Vmcb64(Vmcb12.MsrpmBasePaOffset));
        var save = new SvmNested.SaveState(l2Efer, l2Cr0, l2Cr4, Vmcb64(Vmcb12.Cr3Offset), Vmcb64(Vmcb12.Dr6Offset), Vmcb64(Vmcb12.Dr7Offset), (ushort)ReadMemory(vmcbPa + Vmcb12.CsAttribOffset, 2));
        if (!SvmNested.IsValidSaveState(save, Kvm.MaxPhysAddr, Kvm.AllowedEfer(withSvme: true)) || !Kvm.IsValidCr4(l2Cr4)
            || !SvmNested.IsValidControls(Kvm.MaxPhysAddr, word4, Vmcb32(Vmcb12.AsidOffset), iopm, msrpm))
        {
            Record?.Observations.Add(new RunObservation.SvmVmrunInvalid(i.Rip));
            WriteMemory(page + Vmcb12.ExitCodeOffset, 4, 0xFFFF_FFFF);
            WriteMemory(page + Vmcb12.ExitCodeHiOffset, 4, SvmNested.VmexitInvalidCodeHi);
            WriteMemory(page + Vmcb12.ExitInfo1Offset, 8, 0);
            WriteMemory(page + Vmcb12.ExitInfo2Offset, 8, 0);
            gif = false;
            return Next(i);
        }
        if ((l2Efer & MachineLayout.EferLma) == 0 || (l2Cr0 & MachineLayout.Cr0Pg) == 0)
        {
            return new StopReason.Unsupported(1, i.Rip, i.HexBytes, i.Text, "only 64-bit L2 guests are modelled (save.efer.LMA and save.cr0.PG)");
        }
        var intercepts = ((word3 & Vmcb12.InterceptCpuid) != 0 ? Vmcb12Intercepts.Cpuid : Vmcb12Intercepts.None)
            | ((word4 & Vmcb12.InterceptXsetbv) != 0 ? Vmcb12Intercepts.Xsetbv : Vmcb12Intercepts.None);
        if (!Kvm.NestedSvmVmrun(l2Cr4, intercepts))
        {
            Record?.Observations.Add(new RunObservation.Kvm(1, i.Rip, new Observation.Fault(X86Exception.GP)));
            return new StopReason.UnhandledFault(1, i.Rip, X86Exception.GP);
        }
        (vmcbCrIntercepts, vmcbExceptionIntercepts) = (Vmcb32(Vmcb12.CrInterceptsOffset), Vmcb32(Vmcb12.ExceptionInterceptsOffset));
        (vmcbWord3, vmcbWord4, vmcbIopm, vmcbMsrpm) = (word3, word4, iopm, msrpm);
        (vmcbDr7, vmcbDr6) = SvmNested.DebugRegistersAfterVmrun(save.Dr7, save.Dr6);
        (hostRip, hostRsp, hostRax, hostRflags, hostCr0, hostEfer) = (i.NextRip, gpr[Registers.Rsp], gpr[Registers.Rax], rflags, cr0, efer);
        gif = true;
        svmGuest = true;
        inL2 = true;
        SvmLoad(Vmcb64(Vmcb12.RipOffset), Vmcb64(Vmcb12.RspOffset), Vmcb64(Vmcb12.RaxOffset), Vmcb64(Vmcb12.RflagsOffset) | Rflags.Fixed1, l2Cr0, l2Efer);
        return null;
    }

    /// <summary>A #VMEXIT from L2 at <paramref name="i"/> (not executed): exit information and L2's state into vmcb12, L1's CR4 back, L1 after its VMRUN.</summary>
    private StopReason? SvmVmexit(Insn i, uint code, ulong info)
    {
        var page = vmcbPa;
        WriteMemory(page + Vmcb12.ExitCodeOffset, 4, code);
        WriteMemory(page + Vmcb12.ExitCodeHiOffset, 4, 0);
        WriteMemory(page + Vmcb12.ExitInfo1Offset, 8, info);
        WriteMemory(page + Vmcb12.ExitInfo2Offset, 8, SvmNested.ExitInfo2(code, i.NextRip));
        WriteMemory(page + Vmcb12.ExitIntInfoOffset, 4, 0);
        WriteMemory(page + Vmcb12.Dr7Offset, 8, vmcbDr7);
        WriteMemory(page + Vmcb12.Dr6Offset, 8, vmcbDr6);
        WriteMemory(page + Vmcb12.EventInjOffset, 8, 0);
        if (Kvm.NestedSvmNripsEnabled)
        {
            WriteMemory(page + Vmcb12.NextRipOffset, 8, SvmNested.IsInstructionExit(code) ? i.NextRip : 0);
        }
        WriteMemory(page + Vmcb12.EferOffset, 8, efer);
        WriteMemory(page + Vmcb12.Cr4Offset, 8, Kvm.Cr4);
        WriteMemory(page + Vmcb12.Cr0Offset, 8, cr0);
        WriteMemory(page + Vmcb12.RflagsOffset, 8, rflags);
        WriteMemory(page + Vmcb12.RipOffset, 8, i.Rip);
        WriteMemory(page + Vmcb12.RspOffset, 8, gpr[Registers.Rsp]);
        WriteMemory(page + Vmcb12.RaxOffset, 8, gpr[Registers.Rax]);
        Kvm.NestedSvmVmexit();
        gif = false;
        svmGuest = false;
        inL2 = false;
        SvmLoad(hostRip, hostRsp, hostRax, hostRflags, hostCr0, hostEfer);
        return null;
    }

    /// <summary>The registers VMRUN and #VMEXIT switch (L1 and L2 share the other general-purpose registers).</summary>
    private void SvmLoad(ulong newRip, ulong rsp, ulong rax, ulong flags, ulong newCr0, ulong newEfer)
    {
        gpr[Registers.Rax] = rax;
        gpr[Registers.Rsp] = rsp;
        rip = newRip;
        rflags = flags;
        cr0 = newCr0;
        efer = newEfer;
    }
}
