using System.Diagnostics;
using CpuidFunctional.Interpreter.Machine;

namespace CpuidFunctional.Bench.Mutable;

/// <summary>
/// VMX instructions and nested entry/exit: VmxOps' and Nested's rules again, in place on <see cref="MutableVmcs"/>
/// objects; the pure checks are theirs (<c>VmxOps.PageAddressValid</c>, <c>VmxOps.TryVmcsField</c>,
/// <c>Nested.VmxControlVerify</c>, <c>Nested.IsValidMsrSwitch</c>, <c>Nested.IsValidMsrLoadEntry</c>,
/// <c>Nested.IsValidNmiControls</c>, <c>Nested.HostSegmentsValid</c>, <c>Nested.IsValid64BitEfer</c>,
/// <c>Nested.IsKnownActivityState</c>, <c>Nested.AfterEntry</c>, <see cref="Rflags.Reserved"/>).
/// </summary>
internal sealed partial class MutableMachine
{
    private bool HasCurrent => currentPointer != VmxState.NoVmcs;

    private StopReason? VmxStep(Insn i)
    {
        if (VmxGuest)
        {
            return Exit(i, ExitReason.OfVmxInstruction(i.Op), 0, 0); // VMX instructions always exit from L2
        }
        if (i.Op == Op.Vmcall && !inL2 && Kvm.VmxVendor)
        {
            return Hypercall(i); // L1's VMCALL always exits to L0: a hypercall
        }
        if (i.Op == Op.Vmxon)
        {
            return Vmxon(i);
        }
        if (!vmxOn)
        {
            return RaiseFault(i, X86Exception.UD);
        }
        if (Kvm.Cpl != 0)
        {
            return RaiseFault(i, X86Exception.GP);
        }
        return i.Op switch
        {
            Op.Vmxoff => Vmxoff(i),
            Op.Vmclear => Vmclear(i),
            Op.Vmptrld => Vmptrld(i),
            Op.Vmptrst => Vmptrst(i),
            Op.Vmread => Vmread(i),
            Op.Vmwrite => Vmwrite(i),
            Op.Vmlaunch => Enter(i, launch: true),
            Op.Vmresume => Enter(i, launch: false),
            _ => throw new UnreachableException(i.Op.ToString()), // VMCALL: a hypercall above, or #UD outside VMX operation
        };
    }

    /// <summary>A VMCALL or VMMCALL L0 runs as a hypercall (<c>SvmOps.HypercallResult</c>).</summary>
    private StopReason? Hypercall(Insn i)
    {
        if (SvmOps.HypercallResult(Kvm.Cpl, gpr[Registers.Rax]) is not { } result)
        {
            return new StopReason.Unsupported(inL2 ? 2 : 1, i.Rip, i.HexBytes, i.Text, $"hypercall {gpr[Registers.Rax]} is not modelled");
        }
        gpr[Registers.Rax] = result;
        return Next(i);
    }

    private StopReason? Succeed(Insn i)
    {
        rflags &= ~Rflags.Arithmetic;
        return Next(i);
    }

    private StopReason? FailInvalid(Insn i)
    {
        Record?.Observations.Add(new RunObservation.VmFail(i.Rip, i.Text, null));
        rflags = (rflags & ~Rflags.Arithmetic) | Rflags.CF;
        return Next(i);
    }

    private StopReason? FailValid(Insn i, VmInstructionError error)
    {
        if (!HasCurrent)
        {
            return FailInvalid(i);
        }
        Record?.Observations.Add(new RunObservation.VmFail(i.Rip, i.Text, error));
        current.Write(VmcsField.VmInstructionError, (ulong)error);
        rflags = (rflags & ~Rflags.Arithmetic) | Rflags.ZF;
        return Next(i);
    }

    private bool IsValidPointer(ulong address) => VmxOps.PageAddressValid(Kvm.MaxPhysAddr, address);

    private bool HasRevision(ulong address) => Contains(address, 4) && (uint)ReadMemory(address, 4) == VmxCapabilities.Revision;

    private StopReason? Vmxon(Insn i)
    {
        if ((Kvm.Cr4 & Cr4.Vmxe) == 0)
        {
            return RaiseFault(i, X86Exception.UD);
        }
        if (Kvm.Cpl != 0)
        {
            return RaiseFault(i, X86Exception.GP);
        }
        if (vmxOn)
        {
            return FailValid(i, VmInstructionError.VmxonInRoot);
        }
        if ((cr0 & VmxCapabilities.Cr0Fixed0) != VmxCapabilities.Cr0Fixed0)
        {
            return RaiseFault(i, X86Exception.GP);
        }
        var pointer = Read(i.A);
        if (!IsValidPointer(pointer) || !HasRevision(pointer))
        {
            return FailInvalid(i);
        }
        vmxOn = true;
        vmxonPointer = pointer;
        currentPointer = VmxState.NoVmcs;
        current = new MutableVmcs();
        return Succeed(i);
    }

    /// <summary>Writes the current VMCS back to its region (<c>nested_release_vmcs12</c>); no current VMCS after.</summary>
    private void Park()
    {
        if (HasCurrent)
        {
            regions[currentPointer] = current;
            currentPointer = VmxState.NoVmcs;
            current = new MutableVmcs();
        }
    }

    /// <summary>VMXOFF drops the cached vmcs12 without writing it back (<c>free_nested</c>).</summary>
    private StopReason? Vmxoff(Insn i)
    {
        currentPointer = VmxState.NoVmcs;
        current = new MutableVmcs();
        vmxOn = false;
        vmxonPointer = 0;
        return Succeed(i);
    }

    private StopReason? Vmclear(Insn i)
    {
        var pointer = Read(i.A);
        if (!IsValidPointer(pointer))
        {
            return FailValid(i, VmInstructionError.VmclearInvalidAddress);
        }
        if (pointer == vmxonPointer)
        {
            return FailValid(i, VmInstructionError.VmclearVmxonPointer);
        }
        if (pointer == currentPointer)
        {
            Park();
        }
        if (regions.TryGetValue(pointer, out var vmcs))
        {
            vmcs.Launched = false;
        }
        return Succeed(i);
    }

    private StopReason? Vmptrld(Insn i)
    {
        var pointer = Read(i.A);
        if (!IsValidPointer(pointer))
        {
            return FailValid(i, VmInstructionError.VmptrldInvalidAddress);
        }
        if (pointer == vmxonPointer)
        {
            return FailValid(i, VmInstructionError.VmptrldVmxonPointer);
        }
        if (pointer != currentPointer)
        {
            if (!HasRevision(pointer))
            {
                return FailValid(i, VmInstructionError.VmptrldIncorrectRevision);
            }
            Park();
            // The region keeps what VMPTRLD read; the current VMCS is a copy of it (KVM's cached vmcs12).
            current = regions.TryGetValue(pointer, out var vmcs) ? vmcs.Clone() : new MutableVmcs();
            currentPointer = pointer;
        }
        return Succeed(i);
    }

    private StopReason? Vmptrst(Insn i)
    {
        WriteMemory(Address(i.A), 8, currentPointer);
        return Succeed(i);
    }

    private StopReason? Vmread(Insn i)
    {
        if (!HasCurrent)
        {
            return FailInvalid(i);
        }
        if (!VmxOps.TryVmcsField(Read(i.B), Kvm.Profile, out var field))
        {
            return FailValid(i, VmInstructionError.UnsupportedComponent);
        }
        Write(i.A, current.Read(field));
        return Succeed(i);
    }

    private StopReason? Vmwrite(Insn i)
    {
        if (!HasCurrent)
        {
            return FailInvalid(i);
        }
        if (!VmxOps.TryVmcsField(Read(i.A), Kvm.Profile, out var field))
        {
            return FailValid(i, VmInstructionError.UnsupportedComponent);
        }
        current.Write(field, VmxOps.VmwriteValue(field, Read(i.B))); // VMWRITE to any field: KVM's IA32_VMX_MISC bit 29
        if (((field >> 10) & 3) is 0 or 3)
        {
            checkedVmcs = null; // a control or host-state field: the entry checks run again
        }
        return Succeed(i);
    }

    // ---- nested entry and exit ----

    private StopReason? Enter(Insn i, bool launch)
    {
        if (!HasCurrent)
        {
            return FailInvalid(i);
        }
        var vmcs = current;
        if (launch && vmcs.Launched)
        {
            return FailValid(i, VmInstructionError.VmlaunchNonClear);
        }
        if (!launch && !vmcs.Launched)
        {
            return FailValid(i, VmInstructionError.VmresumeNonLaunched);
        }
        if (!ReferenceEquals(checkedVmcs, vmcs))
        {
            if (!ControlsValid(vmcs))
            {
                return FailValid(i, VmInstructionError.EntryInvalidControls);
            }
            if (!HostStateValid(vmcs))
            {
                return FailValid(i, VmInstructionError.EntryInvalidHostState);
            }
            checkedVmcs = vmcs;
        }
        if ((vmcs.Read(VmcsField.VmEntryIntrInfoField) & (1ul << 31)) != 0)
        {
            return new StopReason.Unsupported(1, i.Rip, i.HexBytes, i.Text, "VM-entry event injection is not modelled");
        }
        var entryControls = (uint)vmcs.Read(VmcsField.VmEntryControls);
        if (vmcs.Read(VmcsField.VmExitMsrStoreCount) != 0)
        {
            return new StopReason.Unsupported(1, i.Rip, i.HexBytes, i.Text, Nested.MsrStoreUnsupported);
        }
        if ((entryControls & VmxCapabilities.EntryIa32eModeGuest) == 0)
        {
            return new StopReason.Unsupported(1, i.Rip, i.HexBytes, i.Text, "only 64-bit L2 guests are modelled (IA-32e mode guest clear)");
        }
        if (GuestStateFailure(vmcs) is { } qualification)
        {
            return EntryFailure(i, ExitReason.InvalidGuestState, qualification, alreadyObserved: false);
        }
        var (count, localFailure) = ReadMsrList(vmcs.Read(VmcsField.VmEntryMsrLoadAddr), vmcs.Read(VmcsField.VmEntryMsrLoadCount));
        var failed = Kvm.NestedVmEntry(vmcs.Read(VmcsField.GuestCr4), msrScratch.AsSpan(0, count));
        if (failed != 0)
        {
            Record?.Observations.Add(new RunObservation.Kvm(1, i.Rip, new Observation.VmEntryMsrLoadFailed(failed)));
            return EntryFailure(i, ExitReason.MsrLoading, failed, alreadyObserved: true);
        }
        if (localFailure != 0)
        {
            return EntryFailure(i, ExitReason.MsrLoading, localFailure, alreadyObserved: false);
        }
        if (!Nested.ProcessorGuestStateValid(vmcs))
        {
            return EntryFailure(i, ExitReason.InvalidGuestState, Nested.EntryFailDefault, alreadyObserved: false);
        }
        efer = (entryControls & VmxCapabilities.EntryLoadEfer) != 0 ? vmcs.Read(VmcsField.GuestIa32Efer) : efer | LongMode;
        gpr[Registers.Rsp] = vmcs.Read(VmcsField.GuestRsp);
        rip = vmcs.Read(VmcsField.GuestRip);
        rflags = vmcs.Read(VmcsField.GuestRflags);
        if (launch)
        {
            vmcs.Launched = true;
        }
        inL2 = true;
        cr0 = vmcs.Read(VmcsField.GuestCr0);
        return Nested.AfterEntry(vmcs.Read(VmcsField.GuestActivityState), rip);
    }

    /// <summary>A VM exit from L2 at instruction <paramref name="i"/>: exit information into vmcs12, then the host state.</summary>
    private StopReason? Exit(Insn i, uint reason, ulong qualification, uint interruptInfo)
    {
        var errorCode = Nested.ExitInterruptionErrorCode(interruptInfo, current.Read(VmcsField.VmExitIntrErrorCode));
        Span<ulong> values = [reason, qualification, (ulong)i.Length, interruptInfo, errorCode, i.Rip, gpr[Registers.Rsp], rflags, cr0, Kvm.Cr4];
        for (var n = 0; n < ExitFields.Length; n++)
        {
            current.Write(ExitFields[n], values[n]);
        }
        if (((uint)current.Read(VmcsField.VmExitControls) & VmxCapabilities.ExitSaveEfer) != 0)
        {
            current.Write(VmcsField.GuestIa32Efer, efer);
        }
        current.Write(VmcsField.IdtVectoringInfoField, Nested.NoEventVectoring);
        return LoadHostState(i);
    }

    private StopReason? EntryFailure(Insn i, uint reason, ulong qualification, bool alreadyObserved)
    {
        var full = reason | ExitReason.EntryFailure;
        if (!alreadyObserved)
        {
            Record?.Observations.Add(new RunObservation.VmEntryFailed(i.Rip, full, qualification));
        }
        current.Write(VmcsField.VmExitReason, full);
        current.Write(VmcsField.ExitQualification, qualification);
        return LoadHostState(i);
    }

    private StopReason? LoadHostState(Insn i)
    {
        var vmcs = current;
        var (count, localFailure) = ReadMsrList(vmcs.Read(VmcsField.VmExitMsrLoadAddr), vmcs.Read(VmcsField.VmExitMsrLoadCount));
        var level = Level;
        if (!Kvm.NestedVmExit(vmcs.Read(VmcsField.HostCr4), msrScratch.AsSpan(0, count)))
        {
            Record?.Observations.Add(new RunObservation.Kvm(level, i.Rip, new Observation.VmxAbort(Msr.VmxAbortLoadHostMsrFail)));
            return new StopReason.VmxAbort(Msr.VmxAbortLoadHostMsrFail);
        }
        if (localFailure != 0)
        {
            return new StopReason.VmxAbort(Msr.VmxAbortLoadHostMsrFail);
        }
        efer = ((uint)vmcs.Read(VmcsField.VmExitControls) & VmxCapabilities.ExitLoadEfer) != 0
            ? vmcs.Read(VmcsField.HostIa32Efer)
            : efer | LongMode;
        gpr[Registers.Rsp] = vmcs.Read(VmcsField.HostRsp);
        rip = vmcs.Read(VmcsField.HostRip);
        rflags = Rflags.Fixed1;
        inL2 = false;
        cr0 = vmcs.Read(VmcsField.HostCr0);
        return null;
    }

    /// <summary>
    /// Reads an MSR-load list into the scratch array, stopping at the first entry KVM refuses before <c>kvm_set_msr</c>
    /// (<c>Nested.IsValidMsrLoadEntry</c>). Not Nested's walk: this one reads the byte array into a reused scratch array.
    /// </summary>
    private (int Count, uint LocalFailure) ReadMsrList(ulong address, ulong count)
    {
        var x2Apic = (Kvm.ApicBase & Msr.ApicBaseExtd) != 0;
        for (var n = 0ul; n < count; n++)
        {
            var at = address + (n * 16);
            if (n >= VmxCapabilities.MaxMsrListEntries || !Contains(at, 16))
            {
                return ((int)n, (uint)n + 1);
            }
            var index = (uint)ReadMemory(at, 4);
            if (!Nested.IsValidMsrLoadEntry(x2Apic, index, (uint)ReadMemory(at + 4, 4)))
            {
                return ((int)n, (uint)n + 1);
            }
            msrScratch[n] = new MsrEntry(index, ReadMemory(at + 8, 8));
        }
        return ((int)count, 0);
    }

    // Not Nested.ControlsValid (nor HostStateValid/GuestStateValid below): those read an immutable Vmcs12 and Core's
    // vCPU; these read the MutableVmcs in place and MutableKvm's CR4 rule. The per-value checks are Nested's.
    private bool ControlsValid(MutableVmcs vmcs)
    {
        var limitsCount = KernelProfiles.ChecksMsrListCount(Kvm.Profile);
        return Nested.VmxControlVerify(vmcs.Read(VmcsField.PinBasedVmExecControl), VmxCapabilities.PinMust1, VmxCapabilities.PinMay1)
            && Nested.VmxControlVerify(vmcs.Read(VmcsField.CpuBasedVmExecControl), VmxCapabilities.ProcTrueMust1, VmxCapabilities.ProcMay1)
            && Nested.VmxControlVerify(vmcs.Read(VmcsField.VmExitControls), VmxCapabilities.ExitTrueMust1, VmxCapabilities.ExitMay1)
            && Nested.VmxControlVerify(vmcs.Read(VmcsField.VmEntryControls), VmxCapabilities.EntryTrueMust1, VmxCapabilities.EntryMay1)
            && Nested.IsValidNmiControls(vmcs.Read(VmcsField.PinBasedVmExecControl))
            && vmcs.Read(VmcsField.Cr3TargetCount) <= VmxCapabilities.MiscCr3Targets
            && Nested.IsValidMsrSwitch(Kvm.MaxPhysAddr, vmcs.Read(VmcsField.VmEntryMsrLoadAddr), vmcs.Read(VmcsField.VmEntryMsrLoadCount), limitsCount)
            && Nested.IsValidMsrSwitch(Kvm.MaxPhysAddr, vmcs.Read(VmcsField.VmExitMsrLoadAddr), vmcs.Read(VmcsField.VmExitMsrLoadCount), limitsCount)
            && Nested.IsValidMsrSwitch(Kvm.MaxPhysAddr, vmcs.Read(VmcsField.VmExitMsrStoreAddr), vmcs.Read(VmcsField.VmExitMsrStoreCount), limitsCount);
    }

    private const ulong LongMode = MachineLayout.EferLma | MachineLayout.EferLme;

    // The VMCS whose controls and host state passed the VMLAUNCH/VMRESUME checks, until a VMWRITE changes one of those
    // fields: the checks read nothing else that a run can change (as Nested.CheckControlsAndHostState's memo).
    private MutableVmcs? checkedVmcs;

    private bool HostStateValid(MutableVmcs vmcs)
    {
        var exit = (uint)vmcs.Read(VmcsField.VmExitControls);
        var cr4 = vmcs.Read(VmcsField.HostCr4);
        if ((exit & VmxCapabilities.ExitHostAddressSpaceSize) == 0
            || !Nested.IsValidNestedCr0(vmcs.Read(VmcsField.HostCr0))
            || (cr4 & VmxCapabilities.Cr4Fixed0) != VmxCapabilities.Cr4Fixed0
            || (cr4 & Cr4.Pae) == 0
            || !Kvm.IsValidCr4(cr4)
            || Kvm.CetWithoutWp(vmcs.Read(VmcsField.HostCr0), cr4)
            || !Nested.IsLegalGpa(vmcs.Read(VmcsField.HostCr3), Kvm.MaxPhysAddr)
            || ((exit & VmxCapabilities.ExitLoadEfer) != 0 && !Nested.IsValid64BitEfer(vmcs.Read(VmcsField.HostIa32Efer), Kvm.AllowedEfer(withSvme: false))))
        {
            return false;
        }
        return Nested.HostSegmentsValid(vmcs, Kvm.HostBaseAddressBits, Kvm.Profile);
    }

    /// <summary>The guest-state checks in KVM's order; the failure's exit qualification, null if the state passes.</summary>
    private ulong? GuestStateFailure(MutableVmcs vmcs)
    {
        var cr0 = vmcs.Read(VmcsField.GuestCr0);
        var cr4 = vmcs.Read(VmcsField.GuestCr4);
        var entry = (uint)vmcs.Read(VmcsField.VmEntryControls);
        if (!Nested.IsValidNestedCr0(cr0)
            || Kvm.CetWithoutWp(cr0, cr4)
            || (cr4 & VmxCapabilities.Cr4Fixed0) != VmxCapabilities.Cr4Fixed0
            || !Kvm.IsValidCr4(cr4)
            || ((entry & VmxCapabilities.EntryLoadDebugControls) != 0 && (vmcs.Read(VmcsField.GuestDr7) >> 32) != 0))
        {
            return Nested.EntryFailDefault;
        }
        var link = vmcs.Read(VmcsField.VmcsLinkPointer);
        var header = link == Nested.NoVmcsLink || !Contains(link, 4) ? (uint?)null : (uint)ReadMemory(link, 4);
        if (!Nested.IsValidVmcsLinkPointer(link, Kvm.MaxPhysAddr, header))
        {
            return Nested.EntryFailVmcsLinkPtr;
        }
        var valid = (cr4 & Cr4.Pae) != 0
            && Nested.IsKnownActivityState(vmcs.Read(VmcsField.GuestActivityState))
            && ((entry & VmxCapabilities.EntryLoadEfer) == 0 || Nested.IsValid64BitEfer(vmcs.Read(VmcsField.GuestIa32Efer), Kvm.AllowedEfer(withSvme: false)))
            && Nested.IsLegalGpa(vmcs.Read(VmcsField.GuestCr3), Kvm.MaxPhysAddr);
        return valid ? null : Nested.EntryFailDefault;
    }
}
