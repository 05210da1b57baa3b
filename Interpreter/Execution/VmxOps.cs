using CpuidFunctional.Core.Dynamic;
using CpuidFunctional.Core.Model;
using CpuidFunctional.Core.State;

namespace CpuidFunctional.Interpreter;

/// <summary>
/// The VMX instructions as L0 emulates them for L1 (KVM's <c>handle_vmxon</c>, <c>handle_vmclear</c>, ... in nested.c,
/// following the SDM's pseudocode): #UD outside VMX operation, a VM exit when executed in L2, and VMsucceed /
/// VMfailInvalid / VMfailValid(error) as RFLAGS results.
/// </summary>
internal static class VmxOps
{
    public static StopReason? Step(ref Machine m, Insn i, RunLog log)
    {
        if (m.InL2)
        {
            return Nested.Exit(ref m, i, ExitReasonOf(i.Op), 0, 0, log);
        }
        if (i.Op == Op.Vmxon)
        {
            return Vmxon(ref m, i, log);
        }
        if (!m.Vmx.On)
        {
            return Executor.RaiseFault(ref m, i, X86Exception.UD, log);
        }
        return i.Op switch
        {
            Op.Vmxoff => Vmxoff(ref m, i, log),
            Op.Vmclear => Vmclear(ref m, i, log),
            Op.Vmptrld => Vmptrld(ref m, i, log),
            Op.Vmptrst => Vmptrst(ref m, i, log),
            Op.Vmread => Vmread(ref m, i, log),
            Op.Vmwrite => Vmwrite(ref m, i, log),
            Op.Vmlaunch => Nested.Enter(ref m, i, launch: true, log),
            Op.Vmresume => Nested.Enter(ref m, i, launch: false, log),
            _ => FailValid(ref m, i, VmInstructionError.VmcallInRoot, log), // VMCALL in VMX root operation
        };
    }

    private static uint ExitReasonOf(Op op) =>
        op switch
        {
            Op.Vmcall => ExitReason.Vmcall,
            Op.Vmclear => ExitReason.Vmclear,
            Op.Vmlaunch => ExitReason.Vmlaunch,
            Op.Vmptrld => ExitReason.Vmptrld,
            Op.Vmptrst => ExitReason.Vmptrst,
            Op.Vmread => ExitReason.Vmread,
            Op.Vmresume => ExitReason.Vmresume,
            Op.Vmwrite => ExitReason.Vmwrite,
            Op.Vmxoff => ExitReason.Vmxoff,
            _ => ExitReason.Vmxon,
        };

    // ---- results ----

    /// <summary>VMsucceed: CF, PF, AF, ZF, SF, OF cleared; next instruction.</summary>
    public static StopReason? Succeed(ref Machine m, Insn i)
    {
        m = m with { Regs = m.Regs.WithRip(i.NextRip).WithRflags(m.Regs.Rflags & ~Rflags.Arithmetic) };
        return null;
    }

    /// <summary>VMfailInvalid: CF set, the other arithmetic flags cleared.</summary>
    public static StopReason? FailInvalid(ref Machine m, Insn i, RunLog log)
    {
        log.Observations.Add(new RunObservation.VmFail(i.Rip, i.Text, null));
        m = m with { Regs = m.Regs.WithRip(i.NextRip).WithRflags((m.Regs.Rflags & ~Rflags.Arithmetic) | Rflags.CF) };
        return null;
    }

    /// <summary>VMfail(error): VMfailValid (ZF, error in VM_INSTRUCTION_ERROR) if there is a current VMCS, else VMfailInvalid.</summary>
    public static StopReason? FailValid(ref Machine m, Insn i, VmInstructionError error, RunLog log)
    {
        if (!m.Vmx.HasCurrent)
        {
            return FailInvalid(ref m, i, log);
        }
        log.Observations.Add(new RunObservation.VmFail(i.Rip, i.Text, error));
        var vmx = m.Vmx with { Current = m.Vmx.Current.Write(VmcsField.VmInstructionError, (ulong)error) };
        m = m with { Vmx = vmx, Regs = m.Regs.WithRip(i.NextRip).WithRflags((m.Regs.Rflags & ~Rflags.Arithmetic) | Rflags.ZF) };
        return null;
    }

    /// <summary>A VMXON/VMCS pointer must be 4 KiB aligned and within the guest's physical-address width.</summary>
    private static bool IsValidPointer(in Machine m, ulong address) =>
        (address & 0xFFF) == 0 && (address >> GuestCpuCaps.MaxPhysAddr(m.Kvm.Vcpu)) == 0;

    /// <summary>The revision identifier in the first dword of a region (bit 31, the shadow-VMCS indicator, included); null if unreadable.</summary>
    private static uint? RevisionAt(in Machine m, ulong address) =>
        m.Memory.Contains(address, 4) ? (uint)m.Memory.Read(address, 4) : null;

    // ---- instructions ----

    /// <summary>
    /// VMXON: #UD without CR4.VMXE; VMfail(15) if already in VMX operation; #GP if CR0 lacks the VMX fixed bits;
    /// VMfailInvalid for a misaligned pointer or a region without the revision identifier.
    /// </summary>
    private static StopReason? Vmxon(ref Machine m, Insn i, RunLog log)
    {
        if ((m.Cr4 & Cr4.Vmxe) == 0)
        {
            return Executor.RaiseFault(ref m, i, X86Exception.UD, log);
        }
        if (m.Vmx.On)
        {
            return FailValid(ref m, i, VmInstructionError.VmxonInRoot, log);
        }
        if ((m.Cr0 & VmxCapabilities.Cr0Fixed0) != VmxCapabilities.Cr0Fixed0)
        {
            return Executor.RaiseFault(ref m, i, X86Exception.GP, log);
        }
        var pointer = Executor.Read(m, i.A);
        if (!IsValidPointer(m, pointer) || RevisionAt(m, pointer) != VmxCapabilities.Revision)
        {
            return FailInvalid(ref m, i, log);
        }
        m = m with { Vmx = m.Vmx with { On = true, VmxonPointer = pointer, CurrentPointer = VmxState.NoVmcs, Current = Vmcs12.Clear } };
        return Succeed(ref m, i);
    }

    /// <summary>VMXOFF: leaves VMX operation; the VMCSs keep their contents (KVM writes vmcs12 back to guest memory).</summary>
    private static StopReason? Vmxoff(ref Machine m, Insn i, RunLog log)
    {
        m = m with { Vmx = Park(m.Vmx) with { On = false, VmxonPointer = 0 } };
        return Succeed(ref m, i);
    }

    /// <summary>The state with the current VMCS moved into the map of other VMCSs (no current VMCS).</summary>
    private static VmxState Park(in VmxState vmx) =>
        vmx.HasCurrent
            ? vmx with { Others = vmx.Others.SetItem(vmx.CurrentPointer, vmx.Current), CurrentPointer = VmxState.NoVmcs, Current = Vmcs12.Clear }
            : vmx;

    /// <summary>VMCLEAR: error 2 for an invalid address, 3 for the VMXON pointer; sets the launch state to clear and, if it was current, leaves no current VMCS.</summary>
    private static StopReason? Vmclear(ref Machine m, Insn i, RunLog log)
    {
        var pointer = Executor.Read(m, i.A);
        if (!IsValidPointer(m, pointer))
        {
            return FailValid(ref m, i, VmInstructionError.VmclearInvalidAddress, log);
        }
        if (pointer == m.Vmx.VmxonPointer)
        {
            return FailValid(ref m, i, VmInstructionError.VmclearVmxonPointer, log);
        }
        var vmx = m.Vmx;
        if (pointer == vmx.CurrentPointer)
        {
            vmx = Park(vmx);
        }
        if (vmx.Others.TryGetValue(pointer, out var vmcs))
        {
            vmx = vmx with { Others = vmx.Others.SetItem(pointer, vmcs.WithLaunched(false)) };
        }
        m = m with { Vmx = vmx };
        return Succeed(ref m, i);
    }

    /// <summary>VMPTRLD: error 9 for an invalid address, 10 for the VMXON pointer, 11 for a wrong revision identifier.</summary>
    private static StopReason? Vmptrld(ref Machine m, Insn i, RunLog log)
    {
        var pointer = Executor.Read(m, i.A);
        if (!IsValidPointer(m, pointer))
        {
            return FailValid(ref m, i, VmInstructionError.VmptrldInvalidAddress, log);
        }
        if (pointer == m.Vmx.VmxonPointer)
        {
            return FailValid(ref m, i, VmInstructionError.VmptrldVmxonPointer, log);
        }
        if (RevisionAt(m, pointer) != VmxCapabilities.Revision)
        {
            return FailValid(ref m, i, VmInstructionError.VmptrldIncorrectRevision, log);
        }
        if (pointer != m.Vmx.CurrentPointer)
        {
            var parked = Park(m.Vmx);
            var vmcs = parked.At(pointer);
            m = m with { Vmx = parked with { Others = parked.Others.Remove(pointer), CurrentPointer = pointer, Current = vmcs } };
        }
        return Succeed(ref m, i);
    }

    /// <summary>VMPTRST: stores the current-VMCS pointer (all ones if none).</summary>
    private static StopReason? Vmptrst(ref Machine m, Insn i, RunLog log)
    {
        m = m with { Memory = m.Memory.Write(Executor.Address(m.Regs, i.A), 8, m.Vmx.CurrentPointer) };
        return Succeed(ref m, i);
    }

    private static bool TryField(ulong value, out uint field)
    {
        field = (uint)value;
        return (value >> 32) == 0 && VmcsField.IsSupported(field);
    }

    /// <summary>VMREAD r/m64, r64: VMfailInvalid without a current VMCS, error 12 for an unsupported field.</summary>
    private static StopReason? Vmread(ref Machine m, Insn i, RunLog log)
    {
        if (!m.Vmx.HasCurrent)
        {
            return FailInvalid(ref m, i, log);
        }
        if (!TryField(Executor.Read(m, i.B), out var field))
        {
            return FailValid(ref m, i, VmInstructionError.UnsupportedComponent, log);
        }
        Executor.WriteAndNext(ref m, i, i.A, m.Vmx.Read(field), m.Regs.Rflags);
        return Succeed(ref m, i);
    }

    /// <summary>VMWRITE r64, r/m64: VMfailInvalid without a current VMCS, error 12 for an unsupported field, 13 for a read-only one.</summary>
    private static StopReason? Vmwrite(ref Machine m, Insn i, RunLog log)
    {
        if (!m.Vmx.HasCurrent)
        {
            return FailInvalid(ref m, i, log);
        }
        if (!TryField(Executor.Read(m, i.A), out var field))
        {
            return FailValid(ref m, i, VmInstructionError.UnsupportedComponent, log);
        }
        if (VmcsField.IsReadOnly(field))
        {
            return FailValid(ref m, i, VmInstructionError.VmwriteReadOnly, log);
        }
        m = m with { Vmx = m.Vmx with { Current = m.Vmx.Current.Write(field, Executor.Read(m, i.B)) } };
        return Succeed(ref m, i);
    }
}
