using CpuidFunctional.Interpreter.Machine;

namespace CpuidFunctional.Bench.Mutable;

/// <summary>
/// System instructions: SystemOps' rules again, in place, with VmxReflect's exit decisions folded into each handler
/// (they read this object's fields); CR0 validity is <c>SystemOps.IsValidCr0</c>, the exit qualifications are
/// <c>VmxReflect.CrAccessQualification</c> and <c>VmxReflect.IoInstructionQualification</c>.
/// </summary>
internal sealed partial class MutableMachine
{
    private uint Exec(uint field) => (uint)current.Read(field);

    private StopReason? SystemStep(Insn i) =>
        i.Op switch
        {
            Op.Pause => VmxGuest && (Exec(VmcsField.CpuBasedVmExecControl) & VmxCapabilities.ProcPauseExiting) != 0
                ? Exit(i, ExitReason.Pause, 0, 0)
                : Next(i),
            Op.Cpuid => Cpuid(i),
            Op.Xgetbv => Xgetbv(i),
            Op.Xsetbv => Xsetbv(i),
            Op.Rdmsr => Rdmsr(i),
            Op.Wrmsr => Wrmsr(i),
            Op.MovToCr => i.A.Register == 4 ? MovToCr4(i) : MovToCr0(i),
            Op.MovFromCr => MovFromCr(i),
            Op.Hlt => !inL2 ? new StopReason.Halted(i.Rip)
                : VmxGuest && (Exec(VmcsField.CpuBasedVmExecControl) & VmxCapabilities.ProcHltExiting) != 0 ? Exit(i, ExitReason.Hlt, 0, 0)
                : new StopReason.L2Halted(i.Rip),
            Op.Out => Out(i),
            Op.In => In(i),
            Op.Rdpkru => Rdpkru(i),
            Op.Wrpkru => Wrpkru(i),
            _ => new StopReason.Unsupported(Level, i.Rip, i.HexBytes, i.Text, $"no semantics for {i.Op}"),
        };

    private StopReason? Cpuid(Insn i)
    {
        if (VmxGuest)
        {
            return Exit(i, ExitReason.Cpuid, 0, 0);
        }
        var leaf = (uint)gpr[Registers.Rax];
        var subleaf = (uint)gpr[Registers.Rcx];
        if (!Kvm.EmulateCpuid(leaf, subleaf, out var eax, out var ebx, out var ecx, out var edx))
        {
            return CoreFault(i, X86Exception.GP);
        }
        Record?.Observations.Add(new RunObservation.Kvm(Level, i.Rip, new Observation.CpuidResult(leaf, subleaf, eax, ebx, ecx, edx)));
        gpr[Registers.Rax] = eax;
        gpr[Registers.Rbx] = ebx;
        gpr[Registers.Rcx] = ecx;
        gpr[Registers.Rdx] = edx;
        return Next(i);
    }

    private StopReason? Xgetbv(Insn i)
    {
        if ((Kvm.Cr4 & Cr4.OsXsave) == 0)
        {
            return RaiseFault(i, X86Exception.UD);
        }
        var index = (uint)gpr[Registers.Rcx];
        if (index > 1 || (index == 1 && !Kvm.HasXgetbv1))
        {
            return RaiseFault(i, X86Exception.GP);
        }
        gpr[Registers.Rax] = Kvm.Xcr0 & 0xFFFF_FFFF;
        gpr[Registers.Rdx] = Kvm.Xcr0 >> 32;
        return Next(i);
    }

    private StopReason? Xsetbv(Insn i)
    {
        if (VmxGuest)
        {
            return (Kvm.Cr4 & Cr4.OsXsave) == 0 ? RaiseFault(i, X86Exception.UD) : Exit(i, ExitReason.Xsetbv, 0, 0);
        }
        var value = (gpr[Registers.Rdx] << 32) | (gpr[Registers.Rax] & 0xFFFF_FFFF);
        return Kvm.Xsetbv((uint)gpr[Registers.Rcx], value) is { } fault ? CoreFault(i, fault) : Next(i);
    }

    private StopReason? Rdmsr(Insn i)
    {
        if (VmxGuest)
        {
            return Exit(i, ExitReason.Rdmsr, 0, 0);
        }
        var index = (uint)gpr[Registers.Rcx];
        if (SvmOps.OwnsMsr(index))
        {
            return SvmRdmsr(i, index);
        }
        ulong value;
        if (VmxCapabilities.OwnsMsr(index))
        {
            if (VmxCapabilities.ReadMsr(index) is not { } v)
            {
                return RaiseFault(i, X86Exception.GP);
            }
            value = v;
        }
        else
        {
            if (!Kvm.Rdmsr(index, out value))
            {
                return CoreFault(i, X86Exception.GP);
            }
            Record?.Observations.Add(new RunObservation.Kvm(Level, i.Rip, new Observation.MsrValue(index, value)));
        }
        gpr[Registers.Rax] = value & 0xFFFF_FFFF;
        gpr[Registers.Rdx] = value >> 32;
        return Next(i);
    }

    private StopReason? Wrmsr(Insn i)
    {
        if (VmxGuest)
        {
            return Exit(i, ExitReason.Wrmsr, 0, 0);
        }
        var index = (uint)gpr[Registers.Rcx];
        var value = (gpr[Registers.Rdx] << 32) | (gpr[Registers.Rax] & 0xFFFF_FFFF);
        if (SvmOps.OwnsMsr(index))
        {
            return SvmWrmsr(i, index, value);
        }
        if (VmxCapabilities.OwnsMsr(index))
        {
            return RaiseFault(i, X86Exception.GP);
        }
        return Kvm.Wrmsr(index, value) ? Next(i) : CoreFault(i, X86Exception.GP);
    }

    private StopReason? MovToCr4(Insn i)
    {
        var value = ReadGpr(i.B);
        if (inL2)
        {
            var mask = current.Read(VmcsField.Cr4GuestHostMask);
            if (VmxGuest && ((value ^ current.Read(VmcsField.Cr4ReadShadow)) & mask) != 0)
            {
                return Exit(i, ExitReason.CrAccess, VmxReflect.CrAccessQualification(4, i.B.Register), 0);
            }
            value = (value & ~mask) | (Kvm.Cr4 & mask);
        }
        var leavesVmx = vmxOn && (value & VmxCapabilities.Cr4Fixed0) != VmxCapabilities.Cr4Fixed0;
        if (leavesVmx || Kvm.CetWithoutWp(cr0, value))
        {
            return RaiseFault(i, X86Exception.GP);
        }
        return Kvm.MovToCr4(value) ? Next(i) : CoreFault(i, X86Exception.GP);
    }

    private StopReason? MovToCr0(Insn i)
    {
        var value = ReadGpr(i.B);
        if (inL2)
        {
            var mask = current.Read(VmcsField.Cr0GuestHostMask);
            if (VmxGuest && ((value ^ current.Read(VmcsField.Cr0ReadShadow)) & mask) != 0)
            {
                return Exit(i, ExitReason.CrAccess, VmxReflect.CrAccessQualification(0, i.B.Register), 0);
            }
            value = (value & ~mask) | (cr0 & mask);
        }
        if (!SystemOps.IsValidCr0(value, vmxOn) || Kvm.CetWithoutWp(value, Kvm.Cr4))
        {
            return RaiseFault(i, X86Exception.GP);
        }
        cr0 = value;
        return Next(i);
    }

    private StopReason? MovFromCr(Insn i)
    {
        var isCr4 = i.B.Register == 4;
        var value = isCr4 ? Kvm.Cr4 : cr0;
        if (inL2)
        {
            var mask = current.Read(isCr4 ? VmcsField.Cr4GuestHostMask : VmcsField.Cr0GuestHostMask);
            var shadow = current.Read(isCr4 ? VmcsField.Cr4ReadShadow : VmcsField.Cr0ReadShadow);
            value = (value & ~mask) | (shadow & mask);
        }
        gpr[i.A.Register] = value;
        return Next(i);
    }

    private bool L2ExitsOnIo => VmxGuest && (Exec(VmcsField.CpuBasedVmExecControl) & VmxCapabilities.ProcUnconditionalIoExiting) != 0;

    private StopReason? Out(Insn i)
    {
        var immediate = i.A.Kind == OperandKind.Immediate;
        var port = (ushort)(immediate ? i.A.Value & 0xFF : gpr[Registers.Rdx] & 0xFFFF);
        if (L2ExitsOnIo)
        {
            return Exit(i, ExitReason.IoInstruction, VmxReflect.IoInstructionQualification(i.OpSize, false, immediate, port), 0);
        }
        var value = (uint)ReadGpr(i.B);
        OutCount++;
        LastOut = value;
        Record?.Outputs.Add(new PortOutput(Level, port, value, i.OpSize));
        return Next(i);
    }

    private StopReason? In(Insn i)
    {
        var immediate = i.B.Kind == OperandKind.Immediate;
        var port = (ushort)(immediate ? i.B.Value & 0xFF : gpr[Registers.Rdx] & 0xFFFF);
        if (L2ExitsOnIo)
        {
            return Exit(i, ExitReason.IoInstruction, VmxReflect.IoInstructionQualification(i.OpSize, true, immediate, port), 0);
        }
        return WriteAndNext(i, i.A, Alu.Mask(i.OpSize), rflags);
    }

    private StopReason? Rdpkru(Insn i)
    {
        if ((Kvm.Cr4 & Cr4.Pke) == 0)
        {
            return RaiseFault(i, X86Exception.UD);
        }
        if ((uint)gpr[Registers.Rcx] != 0)
        {
            return RaiseFault(i, X86Exception.GP);
        }
        gpr[Registers.Rax] = pkru;
        gpr[Registers.Rdx] = 0;
        return Next(i);
    }

    private StopReason? Wrpkru(Insn i)
    {
        if ((Kvm.Cr4 & Cr4.Pke) == 0)
        {
            return RaiseFault(i, X86Exception.UD);
        }
        if ((uint)gpr[Registers.Rcx] != 0 || (uint)gpr[Registers.Rdx] != 0)
        {
            return RaiseFault(i, X86Exception.GP);
        }
        pkru = (uint)gpr[Registers.Rax];
        return Next(i);
    }
}
