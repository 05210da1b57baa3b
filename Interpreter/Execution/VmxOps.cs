using System.Diagnostics;
using CpuidFunctional.Core.Dynamic;
using CpuidFunctional.Interpreter.Machine;

namespace CpuidFunctional.Interpreter.Execution;

/// <summary>
/// The VMX instructions as L0 emulates them for L1 (KVM's <c>handle_vmxon</c>, <c>handle_vmclear</c>, ... in nested.c,
/// following the SDM's pseudocode): #UD outside VMX operation and VMsucceed / VMfailInvalid / VMfailValid(error) as
/// RFLAGS results. Executed in L2 they always exit to L1 (<see cref="VmxReflect"/>), so they never get here.
/// </summary>
internal static class VmxOps
{
    public static StopReason? Step(ref Cpu c, Insn i, RunLog log)
    {
        if (i.Op == Op.Vmcall && !c.InL2 && !c.Kvm.Vm.Host.IsAmdOrHygon)
        {
            // Under kvm_intel L1 is a guest: its VMCALL always exits to L0, which runs it as a hypercall (vmx.c:
            // EXIT_REASON_VMCALL is kvm_emulate_hypercall), in VMX operation or not. (L2's VMCALL under VMX is L1's,
            // VmxReflect.) Under kvm_amd VMCALL is a #UD KVM may rewrite into VMMCALL (FIX_HYPERCALL_INSN): not modelled,
            // it stays the #UD below, which L1 may intercept for L2.
            return SvmOps.Hypercall(ref c, i);
        }
        if (i.Op == Op.Vmxon)
        {
            return Vmxon(ref c, i, log);
        }
        if (!c.Vmx.On)
        {
            return log.Raise(c, i, X86Exception.UD);
        }
        if (c.Kvm.Vcpu.Cpl != 0)
        {
            return log.Raise(c, i, X86Exception.GP); // nested_vmx_check_permission: VMX instructions need CPL 0
        }
        return i.Op switch
        {
            Op.Vmxoff => Vmxoff(ref c, i, log),
            Op.Vmclear => Vmclear(ref c, i, log),
            Op.Vmptrld => Vmptrld(ref c, i, log),
            Op.Vmptrst => Vmptrst(ref c, i, log),
            Op.Vmread => Vmread(ref c, i, log),
            Op.Vmwrite => Vmwrite(ref c, i, log),
            Op.Vmlaunch => Run(ref c, i, launch: true, log),
            Op.Vmresume => Run(ref c, i, launch: false, log),
            _ => throw new UnreachableException(i.Op.ToString()),
        };
    }

    // ---- results ----

    /// <summary>VMsucceed: CF, PF, AF, ZF, SF, OF cleared; next instruction.</summary>
    private static StopReason? Succeed(ref Cpu c, Insn i)
    {
        c.Rip = i.NextRip;
        c.Rflags &= ~Rflags.Arithmetic;
        return null;
    }

    /// <summary>VMfailInvalid: CF set, the other arithmetic flags cleared.</summary>
    private static StopReason? FailInvalid(ref Cpu c, Insn i, RunLog log)
    {
        log.Observations.Add(new RunObservation.VmFail(i.Rip, i.Text, null));
        c.Rip = i.NextRip;
        c.Rflags = (c.Rflags & ~Rflags.Arithmetic) | Rflags.CF;
        return null;
    }

    /// <summary>VMfail(error): VMfailValid (ZF, error in VM_INSTRUCTION_ERROR) if there is a current VMCS, else VMfailInvalid.</summary>
    private static StopReason? FailValid(ref Cpu c, Insn i, VmInstructionError error, RunLog log)
    {
        if (!c.Vmx.HasCurrent)
        {
            return FailInvalid(ref c, i, log);
        }
        log.Observations.Add(new RunObservation.VmFail(i.Rip, i.Text, error));
        c.Vmx = c.Vmx with { Current = c.Vmx.Current.Write(VmcsField.VmInstructionError, (ulong)error) };
        c.Rip = i.NextRip;
        c.Rflags = (c.Rflags & ~Rflags.Arithmetic) | Rflags.ZF;
        return null;
    }

    /// <summary>
    /// <c>page_address_valid</c>: a VMXON/VMCS pointer must be 4 KiB aligned and within the guest's physical-address
    /// width.
    /// </summary>
    internal static bool PageAddressValid(int maxPhysAddr, ulong address) =>
        (address & 0xFFF) == 0 && (address >> maxPhysAddr) == 0;

    private static bool IsValidPointer(in Cpu c, ulong address) => PageAddressValid(GuestCpuCaps.MaxPhysAddr(c.Kvm.Vcpu), address);

    /// <summary>The revision identifier in the first dword of a region (bit 31, the shadow-VMCS indicator, included); null if unreadable.</summary>
    internal static uint? RevisionAt(in Cpu c, ulong address) =>
        c.Memory.Contains(address, 4) ? (uint)c.Memory.Read(address, 4) : null;

    // ---- instructions ----

    /// <summary>
    /// VMXON (<c>handle_vmxon</c>): #UD without CR4.VMXE; #GP above CPL 0; VMfail(15) if already in VMX operation; #GP if CR0 lacks the VMX fixed bits;
    /// VMfailInvalid for a misaligned pointer or a region without the revision identifier.
    /// </summary>
    private static StopReason? Vmxon(ref Cpu c, Insn i, RunLog log)
    {
        if ((c.Cr4 & Cr4.Vmxe) == 0)
        {
            return log.Raise(c, i, X86Exception.UD);
        }
        if (c.Kvm.Vcpu.Cpl != 0)
        {
            return log.Raise(c, i, X86Exception.GP);
        }
        if (c.Vmx.On)
        {
            return FailValid(ref c, i, VmInstructionError.VmxonInRoot, log);
        }
        if ((c.Cr0 & VmxCapabilities.Cr0Fixed0) != VmxCapabilities.Cr0Fixed0)
        {
            return log.Raise(c, i, X86Exception.GP);
        }
        var pointer = Operands.Read(c, i.A);
        if (!IsValidPointer(c, pointer) || RevisionAt(c, pointer) != VmxCapabilities.Revision)
        {
            return FailInvalid(ref c, i, log);
        }
        c.Vmx = c.Vmx with { On = true, VmxonPointer = pointer, CurrentPointer = VmxState.NoVmcs, Current = Vmcs12.Clear };
        return Succeed(ref c, i);
    }

    /// <summary>
    /// VMLAUNCH/VMRESUME (<c>nested_vmx_run</c>): the VMfail checks (no current VMCS; launch state, errors 4/5;
    /// controls, 7; host state, 8), then the entry proper (<see cref="Nested.Enter"/>).
    /// </summary>
    private static StopReason? Run(ref Cpu c, Insn i, bool launch, RunLog log)
    {
        if (!c.Vmx.HasCurrent)
        {
            return FailInvalid(ref c, i, log);
        }
        var launched = c.Vmx.Current.Launched;
        if (launch && launched)
        {
            return FailValid(ref c, i, VmInstructionError.VmlaunchNonClear, log);
        }
        if (!launch && !launched)
        {
            return FailValid(ref c, i, VmInstructionError.VmresumeNonLaunched, log);
        }
        if (Nested.CheckControlsAndHostState(c, log) is { } error)
        {
            return FailValid(ref c, i, error, log);
        }
        return Nested.Enter(ref c, i, launch, log);
    }

    /// <summary>
    /// VMXOFF (<c>handle_vmxoff</c>, <c>free_nested</c>): leaves VMX operation with no current VMCS. KVM frees its
    /// cached vmcs12 without writing it back (<c>nested_release_vmcs12</c> is not called), so the VMCS region keeps
    /// what it held when it was made current: VMWRITEs, launch and exits since the last VMPTRLD are lost, as the SDM
    /// allows for a VMCS not cleared before VMXOFF.
    /// </summary>
    private static StopReason? Vmxoff(ref Cpu c, Insn i, RunLog log)
    {
        c.Vmx = c.Vmx with { On = false, VmxonPointer = 0, CurrentPointer = VmxState.NoVmcs, Current = Vmcs12.Clear };
        return Succeed(ref c, i);
    }

    /// <summary>
    /// <c>nested_release_vmcs12</c>: the current VMCS written back to its region in the map of VMCSs by address, and
    /// no current VMCS.
    /// </summary>
    private static VmxState Park(in VmxState vmx) =>
        vmx.HasCurrent
            ? vmx with { Regions = vmx.Regions.SetItem(vmx.CurrentPointer, vmx.Current), CurrentPointer = VmxState.NoVmcs, Current = Vmcs12.Clear }
            : vmx;

    /// <summary>VMCLEAR: error 2 for an invalid address, 3 for the VMXON pointer; sets the launch state to clear and, if it was current, leaves no current VMCS.</summary>
    private static StopReason? Vmclear(ref Cpu c, Insn i, RunLog log)
    {
        var pointer = Operands.Read(c, i.A);
        if (!IsValidPointer(c, pointer))
        {
            return FailValid(ref c, i, VmInstructionError.VmclearInvalidAddress, log);
        }
        if (pointer == c.Vmx.VmxonPointer)
        {
            return FailValid(ref c, i, VmInstructionError.VmclearVmxonPointer, log);
        }
        var vmx = c.Vmx;
        if (pointer == vmx.CurrentPointer)
        {
            vmx = Park(vmx);
        }
        if (vmx.Regions.TryGetValue(pointer, out var vmcs))
        {
            vmx = vmx with { Regions = vmx.Regions.SetItem(pointer, vmcs.WithLaunched(false)) };
        }
        c.Vmx = vmx;
        return Succeed(ref c, i);
    }

    /// <summary>VMPTRLD: error 9 for an invalid address, 10 for the VMXON pointer, 11 for a wrong revision identifier (not checked for the current VMCS).</summary>
    private static StopReason? Vmptrld(ref Cpu c, Insn i, RunLog log)
    {
        var pointer = Operands.Read(c, i.A);
        if (!IsValidPointer(c, pointer))
        {
            return FailValid(ref c, i, VmInstructionError.VmptrldInvalidAddress, log);
        }
        if (pointer == c.Vmx.VmxonPointer)
        {
            return FailValid(ref c, i, VmInstructionError.VmptrldVmxonPointer, log);
        }
        // handle_vmptrld reads the region's header only to make a new VMCS current: VMPTRLD of the current one
        // succeeds whatever the region now holds.
        if (pointer != c.Vmx.CurrentPointer)
        {
            if (RevisionAt(c, pointer) != VmxCapabilities.Revision)
            {
                return FailValid(ref c, i, VmInstructionError.VmptrldIncorrectRevision, log);
            }
            // The region stays in the map as guest memory holds it; the current copy is KVM's cached vmcs12.
            var parked = Park(c.Vmx);
            c.Vmx = parked with { CurrentPointer = pointer, Current = parked.At(pointer) };
        }
        return Succeed(ref c, i);
    }

    /// <summary>VMPTRST: stores the current-VMCS pointer (all ones if none).</summary>
    private static StopReason? Vmptrst(ref Cpu c, Insn i, RunLog log)
    {
        c.Memory = c.Memory.Write(Operands.Address(c, i.A), 8, c.Vmx.CurrentPointer);
        return Succeed(ref c, i);
    }

    /// <summary>
    /// The VMCS field a VMREAD/VMWRITE operand names (KVM's <c>get_vmcs12_field_offset</c> succeeding): the upper half
    /// clear and a supported encoding; otherwise VM-instruction error 12.
    /// </summary>
    internal static bool TryVmcsField(ulong value, KernelProfile profile, out uint field)
    {
        field = (uint)value;
        return (value >> 32) == 0 && VmcsField.IsSupported(field, profile);
    }

    /// <summary>VMREAD r/m64, r64: VMfailInvalid without a current VMCS, error 12 for an unsupported field.</summary>
    private static StopReason? Vmread(ref Cpu c, Insn i, RunLog log)
    {
        if (!c.Vmx.HasCurrent)
        {
            return FailInvalid(ref c, i, log);
        }
        if (!TryVmcsField(Operands.Read(c, i.B), c.Kvm.Vm.Profile, out var field))
        {
            return FailValid(ref c, i, VmInstructionError.UnsupportedComponent, log);
        }
        // VMsucceed's flags straight away: the write and the flags are one update of the working copy.
        return Operands.WriteAndNext(ref c, i, i.A, c.Vmx.Read(field), c.Rflags & ~Rflags.Arithmetic, log);
    }

    /// <summary>
    /// VMWRITE r64, r/m64: VMfailInvalid without a current VMCS, error 12 for an unsupported field. The "read-only"
    /// VM-exit information fields are writable too: KVM reports VMWRITE to any field in IA32_VMX_MISC
    /// (<see cref="VmxCapabilities.MiscVmwriteAnyField"/>), so <c>handle_vmwrite</c> never gives error 13.
    /// </summary>
    private static StopReason? Vmwrite(ref Cpu c, Insn i, RunLog log)
    {
        if (!c.Vmx.HasCurrent)
        {
            return FailInvalid(ref c, i, log);
        }
        if (!TryVmcsField(Operands.Read(c, i.A), c.Kvm.Vm.Profile, out var field))
        {
            return FailValid(ref c, i, VmInstructionError.UnsupportedComponent, log);
        }
        c.Vmx = c.Vmx with { Current = log.Vmcs.Write(c.Vmx.Current, field, VmwriteValue(field, Operands.Read(c, i.B))) };
        return Succeed(ref c, i);
    }

    /// <summary>
    /// The value VMWRITE stores: <c>handle_vmwrite</c> drops the reserved bits of the guest segment access-rights
    /// fields (ES to TR), keeping 0x1F0FF, as some Intel CPUs do; any other field takes the value as it is.
    /// </summary>
    internal static ulong VmwriteValue(uint field, ulong value) =>
        field is >= VmcsField.GuestEsArBytes and <= VmcsField.GuestTrArBytes ? value & AccessRightsBits : value;

    private const ulong AccessRightsBits = 0x1F0FF;
}
