using System.Collections.Immutable;
using System.Runtime.CompilerServices;
using CpuidFunctional.Core.Dynamic;
using CpuidFunctional.Interpreter.Machine;

namespace CpuidFunctional.Interpreter.Execution;

/// <summary>
/// Nested VM entry and VM exit (spec §7; KVM's <c>nested_vmx_check_controls</c>, <c>nested_vmx_check_host_state</c>,
/// <c>nested_vmx_enter_non_root_mode</c>, <c>nested_vmx_vmexit</c>, <c>load_vmcs12_host_state</c>). The CR4 loads and
/// MSR-load lists go to Core as <see cref="VcpuEvent.NestedVmEntry"/> and <see cref="VcpuEvent.NestedVmExit"/>. Called
/// by VMLAUNCH/VMRESUME (<see cref="VmxOps"/>) and, for exits, by the stepper only; it calls neither.
/// </summary>
internal static class Nested
{
    /// <summary>
    /// The VMfail checks of the current vmcs12 that VMLAUNCH/VMRESUME make after the launch state
    /// (<c>nested_vmx_check_controls</c>, error 7; <c>nested_vmx_check_host_state</c>, error 8); null if both pass.
    /// </summary>
    public static VmInstructionError? CheckControlsAndHostState(in Cpu c, RunLog log)
    {
        var vmcs = c.Vmx.Current;
        var guestCaps = c.Kvm.Vcpu.Guest;
        // Both checks read only chunked vmcs12 fields and the static guest capabilities: if these are the ones that
        // passed at the previous entry, they pass again (run-local memo, see RunLog.CheckedEntry).
        if (ReferenceEquals(log.CheckedEntry.Chunks, vmcs.ChunkIdentity) && log.CheckedEntry.Guest == guestCaps)
        {
            return null;
        }
        if (!ControlsValid(c, vmcs))
        {
            return VmInstructionError.EntryInvalidControls;
        }
        if (!HostStateValid(c, vmcs))
        {
            return VmInstructionError.EntryInvalidHostState;
        }
        log.CheckedEntry = (vmcs.ChunkIdentity, guestCaps);
        return null;
    }

    /// <summary>
    /// VMLAUNCH/VMRESUME after the VMfail checks (<c>nested_vmx_enter_non_root_mode</c>): the guest-state checks
    /// (failure: exit reason 33), then Core's entry (GUEST_CR4 and the VM-entry MSR-load list; failure: exit reason
    /// 34), then L2 runs at GUEST_RIP.
    /// </summary>
    public static StopReason? Enter(ref Cpu c, Insn i, bool launch, RunLog log)
    {
        var vmcs = c.Vmx.Current;
        if ((vmcs.Read(VmcsField.VmEntryIntrInfoField) & (1ul << 31)) != 0)
        {
            return new StopReason.Unsupported(1, i.Rip, i.HexBytes, i.Text, "VM-entry event injection is not modelled");
        }
        if (vmcs.Read(VmcsField.VmExitMsrStoreCount) != 0)
        {
            return new StopReason.Unsupported(1, i.Rip, i.HexBytes, i.Text, MsrStoreUnsupported);
        }
        var entryControls = (uint)vmcs.Read(VmcsField.VmEntryControls);
        if ((entryControls & VmxCapabilities.EntryIa32eModeGuest) == 0)
        {
            return new StopReason.Unsupported(1, i.Rip, i.HexBytes, i.Text, "only 64-bit L2 guests are modelled (IA-32e mode guest clear)");
        }
        if (GuestStateFailure(c, vmcs) is { } qualification)
        {
            return EntryFailure(ref c, i, ExitReason.InvalidGuestState, qualification, log);
        }

        var (list, localFailure) = ReadMsrList(c, vmcs.Read(VmcsField.VmEntryMsrLoadAddr), vmcs.Read(VmcsField.VmEntryMsrLoadCount));
        var guestCr4 = vmcs.Read(VmcsField.GuestCr4);
        var observation = log.Apply(ref c, log.Events.NestedVmEntry(guestCr4, vmcs.Read(VmcsField.Cr4GuestHostMask), vmcs.Read(VmcsField.Cr4ReadShadow), list), i.Rip, 1);
        if (observation is Observation.VmEntryMsrLoadFailed failed)
        {
            return EntryFailure(ref c, i, ExitReason.MsrLoading, failed.Qualification, log, alreadyObserved: true);
        }
        if (localFailure != 0)
        {
            return EntryFailure(ref c, i, ExitReason.MsrLoading, localFailure, log);
        }
        if (!ProcessorGuestStateValid(vmcs))
        {
            return EntryFailure(ref c, i, ExitReason.InvalidGuestState, EntryFailDefault, log);
        }

        // nested_vmx_calc_efer: GUEST_IA32_EFER if loaded, else L1's EFER with LMA and LME for the IA-32e mode guest.
        var efer = (entryControls & VmxCapabilities.EntryLoadEfer) != 0
            ? vmcs.Read(VmcsField.GuestIa32Efer)
            : c.Efer | LongMode;
        c.Gprs[Registers.Rsp] = vmcs.Read(VmcsField.GuestRsp);
        c.Rip = vmcs.Read(VmcsField.GuestRip);
        c.Rflags = vmcs.Read(VmcsField.GuestRflags);
        c.Cr0 = vmcs.Read(VmcsField.GuestCr0);
        c.Efer = efer;
        c.InL2 = true;
        if (launch)
        {
            c.Vmx = c.Vmx with { Current = c.Vmx.Current.WithLaunched(true) };
        }
        return AfterEntry(vmcs.Read(VmcsField.GuestActivityState), c.Rip);
    }

    /// <summary>
    /// Why an entry with a VM-exit MSR-store list stops the run: KVM would store the listed MSRs at every exit
    /// (<c>nested_vmx_store_msr</c>), which the model does not do. The list's address and count are checked first.
    /// </summary>
    internal const string MsrStoreUnsupported = "the VM-exit MSR-store list is not modelled";

    /// <summary>
    /// <c>nested_vmx_run</c> after a successful entry into an inactive L2: in the HLT state the vCPU halts
    /// (<c>kvm_emulate_halt_noskip</c>), as nothing can wake it (no event is injected, and the model offers neither
    /// NMI- nor interrupt-window exiting); in the wait-for-SIPI state it waits for a SIPI (KVM_MP_STATE_INIT_RECEIVED),
    /// which the model never sends. Either way the run stops at L2's GUEST_RIP. Null for the active state.
    /// </summary>
    internal static StopReason? AfterEntry(ulong activityState, ulong guestRip) =>
        activityState switch
        {
            ActivityState.Hlt => new StopReason.L2Halted(guestRip),
            ActivityState.WaitForSipi => new StopReason.L2WaitingForSipi(guestRip),
            _ => null,
        };

    /// <summary>
    /// A VM exit from L2 at instruction <paramref name="i"/> (not executed), as <see cref="VmxReflect"/> decided it:
    /// exit information and L2's state go into vmcs12, then the host state is loaded (<see cref="LoadHostState"/>)
    /// and L1 continues at HOST_RIP.
    /// </summary>
    public static StopReason? Exit(ref Cpu c, Insn i, Reflection.ExitToL1 exit, RunLog log)
    {
        var vmcs = log.Vmcs.WithExitFields(
            c.Vmx.Current,
            new Vmcs12ExitFields(
                ExitReason: exit.Reason,
                ExitQualification: exit.Qualification,
                InstructionLength: (uint)i.Length,
                InterruptionInfo: exit.InterruptionInfo,
                InterruptionErrorCode: ExitInterruptionErrorCode(exit.InterruptionInfo, c.Vmx.Current.Read(VmcsField.VmExitIntrErrorCode)),
                GuestRip: i.Rip,
                GuestRsp: c.Gprs[Registers.Rsp],
                GuestRflags: c.Rflags,
                GuestCr0: c.Cr0,
                GuestCr4: c.Cr4
            )
        );
        if (((uint)vmcs.Read(VmcsField.VmExitControls) & VmxCapabilities.ExitSaveEfer) != 0)
        {
            vmcs = vmcs.Write(VmcsField.GuestIa32Efer, c.Efer);
        }
        if (vmcs.Read(VmcsField.IdtVectoringInfoField) != NoEventVectoring)
        {
            vmcs = vmcs.Write(VmcsField.IdtVectoringInfoField, NoEventVectoring); // only after L1 wrote the field
        }
        c.Vmx = c.Vmx with { Current = vmcs };
        return LoadHostState(ref c, i, log);
    }

    /// <summary>
    /// IDT_VECTORING_INFO after a VM exit (<c>vmcs12_save_pending_event</c>): no event was being delivered, as the
    /// model injects none (VM-entry injection stops the run), so the field is 0 after every exit that is not an entry
    /// failure, whatever L1 wrote there.
    /// </summary>
    internal const ulong NoEventVectoring = 0;

    /// <summary>
    /// VM_EXIT_INTR_ERROR_CODE after a VM exit: written only for an exit whose interruption information is valid and
    /// delivers an error code (<c>nested_vmx_reflect_vmexit</c>, <c>nested_vmx_inject_exception_vmexit</c>; the model's
    /// #GP, whose error code is 0); <c>prepare_vmcs12</c> leaves it alone, so otherwise it keeps what it held.
    /// </summary>
    internal static uint ExitInterruptionErrorCode(uint interruptionInfo, ulong previous) =>
        (interruptionInfo & ValidWithErrorCode) == ValidWithErrorCode ? 0u : (uint)previous;

    private const uint ValidWithErrorCode = (1u << 31) | (1u << 11);

    /// <summary>
    /// A VM-entry failure after the VMfail checks (<c>vmentry_fail_vmexit</c>): the exit reason with bit 31 and the
    /// qualification go into vmcs12, the host state is loaded and L1 continues at HOST_RIP. The launch state is unchanged.
    /// </summary>
    private static StopReason? EntryFailure(ref Cpu c, Insn i, uint reason, ulong qualification, RunLog log, bool alreadyObserved = false)
    {
        var full = reason | ExitReason.EntryFailure;
        if (!alreadyObserved)
        {
            log.Observations.Add(new RunObservation.VmEntryFailed(i.Rip, full, qualification));
        }
        var vmcs = c.Vmx.Current.Write(VmcsField.VmExitReason, full).Write(VmcsField.ExitQualification, qualification);
        c.Vmx = c.Vmx with { Current = vmcs };
        return LoadHostState(ref c, i, log);
    }

    /// <summary>
    /// <c>load_vmcs12_host_state</c>: Core loads HOST_CR4 and the VM-exit MSR-load list (a refused entry is a VMX
    /// abort); CR0, EFER, RSP, RIP come from the host-state area; RFLAGS is 0x2.
    /// </summary>
    private static StopReason? LoadHostState(ref Cpu c, Insn i, RunLog log)
    {
        var vmcs = c.Vmx.Current;
        var (list, localFailure) = ReadMsrList(c, vmcs.Read(VmcsField.VmExitMsrLoadAddr), vmcs.Read(VmcsField.VmExitMsrLoadCount));
        var level = c.Level;
        var observation = log.Apply(ref c, log.Events.NestedVmExit(vmcs.Read(VmcsField.HostCr4), list), i.Rip, level);
        if (observation is Observation.VmxAbort abort)
        {
            return new StopReason.VmxAbort(abort.Indicator);
        }
        if (localFailure != 0)
        {
            return new StopReason.VmxAbort(Msr.VmxAbortLoadHostMsrFail);
        }
        // load_vmcs12_host_state: HOST_IA32_EFER if loaded, else L2's EFER with LMA and LME (host address-space size).
        var efer = (((uint)vmcs.Read(VmcsField.VmExitControls)) & VmxCapabilities.ExitLoadEfer) != 0
            ? vmcs.Read(VmcsField.HostIa32Efer)
            : c.Efer | LongMode;
        c.Gprs[Registers.Rsp] = vmcs.Read(VmcsField.HostRsp);
        c.Rip = vmcs.Read(VmcsField.HostRip);
        c.Rflags = Rflags.Fixed1;
        c.Cr0 = vmcs.Read(VmcsField.HostCr0);
        c.Efer = efer;
        c.InL2 = false;
        return null;
    }

    /// <summary>
    /// Reads an MSR-load list (16-byte entries: index, reserved, value) as <c>nested_vmx_load_msr</c> walks it. The
    /// entries Core should apply stop at the first one KVM refuses before <c>kvm_set_msr</c> (unreadable, beyond 512
    /// entries, or failing <see cref="IsValidMsrLoadEntry"/>); that entry's 1-based number is returned as the local
    /// failure (0 if none).
    /// </summary>
    /// <remarks>
    /// Performance: an empty list (every workload's, at every VM entry and exit) returns inline, without the call and
    /// its returned pair, as Core's handler of the list does.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (ValueArray<MsrEntry> List, uint LocalFailure) ReadMsrList(in Cpu c, ulong address, ulong count) =>
        count == 0 ? (ValueArray<MsrEntry>.Empty, 0) : ReadMsrListEntries(c, address, count);

    private static (ValueArray<MsrEntry> List, uint LocalFailure) ReadMsrListEntries(in Cpu c, ulong address, ulong count)
    {
        var x2Apic = (c.Kvm.Vcpu.ApicBase & Msr.ApicBaseExtd) != 0;
        var builder = ImmutableArray.CreateBuilder<MsrEntry>();
        for (var n = 0ul; n < count; n++)
        {
            var at = address + (n * 16);
            if (n >= VmxCapabilities.MaxMsrListEntries || !c.Memory.Contains(at, 16))
            {
                return (builder.ToImmutable(), (uint)n + 1);
            }
            var index = (uint)c.Memory.Read(at, 4);
            if (!IsValidMsrLoadEntry(x2Apic, index, (uint)c.Memory.Read(at + 4, 4)))
            {
                return (builder.ToImmutable(), (uint)n + 1);
            }
            builder.Add(new MsrEntry(index, c.Memory.Read(at + 8, 8)));
        }
        return (builder.ToImmutable(), 0);
    }

    /// <summary>
    /// <c>nested_vmx_load_msr_check</c> (with <c>nested_vmx_msr_check_common</c>): an MSR-load entry is refused if its
    /// reserved dword is non-zero, if it names FS_BASE, GS_BASE, SMM_MONITOR_CTL, BIOS_UPDT_TRIG (UCODE_WRITE) or
    /// BIOS_SIGN_ID (UCODE_REV), or if it is in the x2APIC range (0x800-0x8FF) while x2APIC mode is on.
    /// </summary>
    internal static bool IsValidMsrLoadEntry(bool x2Apic, uint index, uint reserved) =>
        reserved == 0
        && index is not (0xC000_0100 or 0xC000_0101 or 0x9B or 0x79 or 0x8B)
        && !(x2Apic && index >> 8 == 0x8);

    /// <summary>
    /// <c>vmx_control_verify</c> for a 32-bit control field read as 64 bits: the upper half clear, every must-be-1
    /// bit set and no bit outside the may-be-1 bits.
    /// </summary>
    internal static bool VmxControlVerify(ulong value, uint must1, uint may1) =>
        (value >> 32) == 0 && ((uint)value & must1) == must1 && ((uint)value & ~may1) == 0;

    /// <summary>
    /// <c>nested_vmx_check_msr_switch</c>: an MSR-load list of <paramref name="count"/> 16-byte entries is 16-byte
    /// aligned and its first and last byte lie below the guest's physical-address width (no wrap-around), and, where
    /// the kernel checks it (<paramref name="limitsCount"/>, <see cref="KernelProfiles.ChecksMsrListCount"/>), holds at
    /// most <see cref="VmxCapabilities.MaxMsrListEntries"/> entries. An empty list is always valid.
    /// </summary>
    internal static bool IsValidMsrSwitch(int maxPhysAddr, ulong address, ulong count, bool limitsCount)
    {
        if (count == 0)
        {
            return true;
        }
        if (limitsCount && count > VmxCapabilities.MaxMsrListEntries)
        {
            return false;
        }
        var last = address + (count * 16) - 1;
        return (address & 0xF) == 0 && (address >> maxPhysAddr) == 0 && (last >> maxPhysAddr) == 0 && last >= address;
    }

    /// <summary><c>nested_check_vm_execution_controls</c> and friends, as far as modelled: allowed settings, NMI controls, CR3 targets, the three MSR lists.</summary>
    private static bool ControlsValid(in Cpu c, Vmcs12 vmcs)
    {
        var maxPhys = GuestCpuCaps.MaxPhysAddr(c.Kvm.Vcpu);
        var limitsCount = KernelProfiles.ChecksMsrListCount(c.Kvm.Vm.Profile);
        return VmxControlVerify(vmcs.Read(VmcsField.PinBasedVmExecControl), VmxCapabilities.PinMust1, VmxCapabilities.PinMay1)
            && VmxControlVerify(vmcs.Read(VmcsField.CpuBasedVmExecControl), VmxCapabilities.ProcTrueMust1, VmxCapabilities.ProcMay1)
            && VmxControlVerify(vmcs.Read(VmcsField.VmExitControls), VmxCapabilities.ExitTrueMust1, VmxCapabilities.ExitMay1)
            && VmxControlVerify(vmcs.Read(VmcsField.VmEntryControls), VmxCapabilities.EntryTrueMust1, VmxCapabilities.EntryMay1)
            && IsValidNmiControls(vmcs.Read(VmcsField.PinBasedVmExecControl))
            && vmcs.Read(VmcsField.Cr3TargetCount) <= VmxCapabilities.MiscCr3Targets
            && IsValidMsrSwitch(maxPhys, vmcs.Read(VmcsField.VmEntryMsrLoadAddr), vmcs.Read(VmcsField.VmEntryMsrLoadCount), limitsCount)
            && IsValidMsrSwitch(maxPhys, vmcs.Read(VmcsField.VmExitMsrLoadAddr), vmcs.Read(VmcsField.VmExitMsrLoadCount), limitsCount)
            && IsValidMsrSwitch(maxPhys, vmcs.Read(VmcsField.VmExitMsrStoreAddr), vmcs.Read(VmcsField.VmExitMsrStoreCount), limitsCount);
    }

    /// <summary>
    /// Whether a linear address is canonical for <paramref name="bits"/>-bit addressing (48 or 57): the bits above
    /// bit <paramref name="bits"/> − 1 all equal it (KVM's <c>__is_canonical_address</c>).
    /// </summary>
    internal static bool IsCanonical(ulong address, int bits) => (ulong)((long)(address << (64 - bits)) >> (64 - bits)) == address;

    /// <summary>
    /// The width the host-state bases and SYSENTER addresses are canonical against: from 6.13
    /// (<c>is_noncanonical_base_address</c>, <c>is_noncanonical_msr_address</c>) the widest the host allows
    /// (<c>max_host_virt_addr_bits</c>: 57 where KVM supports LA57), before it the vCPU's (48: the model's L1 never
    /// has CR4.LA57 in 64-bit code, which may not change it).
    /// </summary>
    internal static int HostBaseAddressBits(Vm vm) =>
        KernelProfiles.CanonicalChecksUseHostWidth(vm.Profile) && (SupportedCpuid.Cr4ReservedBits(vm.Host, vm.Profile) & Cr4.La57) == 0 ? 57 : 48;

    /// <summary>
    /// <c>nested_vmx_check_host_state</c> for a 64-bit L1: host address-space size set, HOST_CR0/HOST_CR4 valid in
    /// VMX operation (fixed bits, <c>kvm_is_valid_cr4</c>, PAE, from 6.18 no CET without WP), HOST_CR3 within MAXPHYADDR, the selectors and
    /// addresses of <see cref="HostSelectorFields"/> and <see cref="HostCanonicalFields"/>, and a valid 64-bit
    /// HOST_IA32_EFER if loaded.
    /// </summary>
    private static bool HostStateValid(in Cpu c, Vmcs12 vmcs)
    {
        var exit = (uint)vmcs.Read(VmcsField.VmExitControls);
        var cr4 = vmcs.Read(VmcsField.HostCr4);
        if ((exit & VmxCapabilities.ExitHostAddressSpaceSize) == 0
            || !IsValidNestedCr0(vmcs.Read(VmcsField.HostCr0))
            || (cr4 & VmxCapabilities.Cr4Fixed0) != VmxCapabilities.Cr4Fixed0
            || (cr4 & Cr4.Pae) == 0
            || !Kvm.IsValidCr4(c.Kvm.Vcpu, cr4)
            || Kvm.CetWithoutWp(c.Kvm.Vm.Profile, vmcs.Read(VmcsField.HostCr0), cr4)
            || !IsLegalGpa(vmcs.Read(VmcsField.HostCr3), GuestCpuCaps.MaxPhysAddr(c.Kvm.Vcpu))
            || ((exit & VmxCapabilities.ExitLoadEfer) != 0 && !IsValid64BitEfer(vmcs.Read(VmcsField.HostIa32Efer), SvmOps.AllowedEfer(c, withSvme: false))))
        {
            return false;
        }
        return HostSegmentsValid(vmcs, HostBaseAddressBits(c.Kvm.Vm), c.Kvm.Vm.Profile);
    }

    /// <summary>
    /// The host segment checks of <c>nested_vmx_check_host_state</c>: every selector of <see cref="HostSelectorFields"/>
    /// valid (<see cref="IsValidHostSelector"/>), every address of <see cref="HostCanonicalFields"/> canonical, the bases
    /// and SYSENTER addresses for <paramref name="baseBits"/> (<see cref="HostBaseAddressBits"/>), HOST_RIP for <see cref="HostRipAddressBits"/>.
    /// </summary>
    internal static bool HostSegmentsValid<TVmcs>(TVmcs vmcs, int baseBits, KernelProfile profile)
        where TVmcs : IVmcsFields
    {
        var ripBits = HostRipAddressBits(profile, vmcs.Read(VmcsField.HostCr4));
        foreach (var field in HostSelectorFields)
        {
            if (!IsValidHostSelector(field, vmcs.Read(field)))
            {
                return false;
            }
        }
        foreach (var field in HostCanonicalFields)
        {
            if (!IsCanonical(vmcs.Read(field), field == VmcsField.HostRip ? ripBits : baseBits))
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>
    /// The width HOST_RIP is canonical against: from 6.13 (<c>is_l1_noncanonical_address_on_vmexit</c>,
    /// <see cref="KernelProfiles.HostRipCanonicalForHostCr4"/>) what L1 will have after the exit, 57 bits with HOST_CR4.LA57; before, the
    /// vCPU's current width (48: the model's L1 never runs with LA57).
    /// </summary>
    internal static int HostRipAddressBits(KernelProfile profile, ulong hostCr4) =>
        KernelProfiles.HostRipCanonicalForHostCr4(profile) && (hostCr4 & Cr4.La57) != 0 ? 57 : 48;

    /// <summary>
    /// <c>nested_check_guest_non_reg_state</c>: the activity states KVM accepts (active, HLT, wait-for-SIPI; what its
    /// IA32_VMX_MISC offers). <see cref="AfterEntry"/> says what an inactive one does.
    /// </summary>
    internal static bool IsKnownActivityState(ulong state) => state is ActivityState.Active or ActivityState.Hlt or ActivityState.WaitForSipi;

    /// <summary>EFER.LMA and EFER.LME: a 64-bit side's EFER has both.</summary>
    private const ulong LongMode = MachineLayout.EferLma | MachineLayout.EferLme;

    /// <summary>The host-state selectors <c>nested_vmx_check_host_state</c> checks: ES, CS, SS, DS, FS, GS, TR.</summary>
    internal static ReadOnlySpan<uint> HostSelectorFields =>
        [VmcsField.HostEsSelector, VmcsField.HostCsSelector, VmcsField.HostSsSelector, VmcsField.HostDsSelector, VmcsField.HostFsSelector, VmcsField.HostGsSelector, VmcsField.HostTrSelector];

    /// <summary>
    /// The host-state addresses <c>nested_vmx_check_host_state</c> wants canonical: the FS, GS, TR, GDTR and IDTR bases,
    /// IA32_SYSENTER_ESP and _EIP (against <see cref="HostBaseAddressBits"/>), and RIP (against <see cref="HostRipAddressBits"/>).
    /// </summary>
    internal static ReadOnlySpan<uint> HostCanonicalFields =>
        [VmcsField.HostFsBase, VmcsField.HostGsBase, VmcsField.HostTrBase, VmcsField.HostGdtrBase, VmcsField.HostIdtrBase, VmcsField.HostIa32SysenterEsp, VmcsField.HostIa32SysenterEip, VmcsField.HostRip];

    /// <summary>
    /// <c>nested_vmx_check_host_state</c>'s selector rule for a 64-bit host: no RPL or TI bits, and HOST_CS and
    /// HOST_TR not null (HOST_SS may be null in 64-bit mode).
    /// </summary>
    internal static bool IsValidHostSelector(uint field, ulong selector) =>
        (selector & 7) == 0 && (selector != 0 || field is not (VmcsField.HostCsSelector or VmcsField.HostTrSelector));

    /// <summary><c>kvm_vcpu_is_legal_gpa</c>: no bit at or above MAXPHYADDR (HOST_CR3, the MSR-list addresses).</summary>
    internal static bool IsLegalGpa(ulong gpa, int maxPhysAddr) => (gpa >> maxPhysAddr) == 0;

    /// <summary>
    /// A loaded HOST_IA32_EFER or GUEST_IA32_EFER for a 64-bit side: <c>kvm_valid_efer</c> (no bit outside
    /// <paramref name="allowed"/>, <see cref="SvmOps.AllowedEfer"/>) with LMA and LME both set, as the address-space
    /// size and IA-32e mode controls say.
    /// </summary>
    internal static bool IsValid64BitEfer(ulong efer, ulong allowed) =>
        (efer & ~allowed) == 0 && (efer & LongMode) == LongMode;

    /// <summary>
    /// <c>nested_vmx_check_nmi_controls</c>: virtual NMIs need NMI exiting (and NMI-window exiting virtual NMIs, which
    /// the model does not offer).
    /// </summary>
    internal static bool IsValidNmiControls(ulong pin) =>
        (pin & VmxCapabilities.PinVirtualNmis) == 0 || (pin & VmxCapabilities.PinNmiExiting) != 0;

    /// <summary>
    /// <c>nested_vmx_check_guest_state</c>, as far as modelled, in its order; the failure's exit qualification, null if
    /// the state passes. First GUEST_CR0/GUEST_CR4 (<see cref="IsValidNestedCr0"/>, from 6.18 no CET without WP,
    /// <c>kvm_is_valid_cr4</c>) and GUEST_DR7's bits 63:32 if debug controls are loaded (IA32_DEBUGCTL's check is not
    /// modelled); then the VMCS link pointer (<see cref="IsValidVmcsLinkPointer"/>, qualification 4); then PAE for the
    /// IA-32e mode guest, an activity state KVM knows (<c>nested_check_guest_non_reg_state</c>: active, HLT or
    /// wait-for-SIPI), a valid 64-bit GUEST_IA32_EFER if loaded, and last a GUEST_CR3 within MAXPHYADDR
    /// (<c>nested_vmx_load_cr3</c>, in <c>prepare_vmcs02</c>). Every other failure has qualification 0. GUEST_RFLAGS is
    /// the processor's check, after the MSR-load list (<see cref="ProcessorGuestStateValid"/>).
    /// </summary>
    private static ulong? GuestStateFailure(in Cpu c, Vmcs12 vmcs)
    {
        var cr0 = vmcs.Read(VmcsField.GuestCr0);
        var cr4 = vmcs.Read(VmcsField.GuestCr4);
        var entry = (uint)vmcs.Read(VmcsField.VmEntryControls);
        var registers = IsValidNestedCr0(cr0)
            && !Kvm.CetWithoutWp(c.Kvm.Vm.Profile, cr0, cr4)
            && (cr4 & VmxCapabilities.Cr4Fixed0) == VmxCapabilities.Cr4Fixed0
            && Kvm.IsValidCr4(c.Kvm.Vcpu, cr4)
            && ((entry & VmxCapabilities.EntryLoadDebugControls) == 0 || (vmcs.Read(VmcsField.GuestDr7) >> 32) == 0);
        if (!registers)
        {
            return EntryFailDefault;
        }
        var maxPhysAddr = GuestCpuCaps.MaxPhysAddr(c.Kvm.Vcpu);
        var link = vmcs.Read(VmcsField.VmcsLinkPointer);
        if (!IsValidVmcsLinkPointer(link, maxPhysAddr, link == NoVmcsLink ? null : VmxOps.RevisionAt(c, link)))
        {
            return EntryFailVmcsLinkPtr;
        }
        var rest = (cr4 & Cr4.Pae) != 0 // the IA-32e mode guest's PAE, checked after the link pointer
            && IsKnownActivityState(vmcs.Read(VmcsField.GuestActivityState))
            && ((entry & VmxCapabilities.EntryLoadEfer) == 0 || IsValid64BitEfer(vmcs.Read(VmcsField.GuestIa32Efer), SvmOps.AllowedEfer(c, withSvme: false)))
            && IsLegalGpa(vmcs.Read(VmcsField.GuestCr3), maxPhysAddr); // prepare_vmcs02's nested_vmx_load_cr3
        return rest ? null : EntryFailDefault;
    }

    /// <summary>
    /// The guest-state checks only the processor makes, when KVM enters vmcs02 with vmcs12's values (KVM copies them
    /// unchecked): GUEST_RFLAGS with bit 1 set and the reserved bits clear, and GDTR and IDTR limits without bits 31:16
    /// (SDM Vol. 3, checks on the guest descriptor-table registers). A failure is exit reason 33 after the VM-entry
    /// MSR-load list took effect. (The segment register checks are not modelled.)
    /// </summary>
    internal static bool ProcessorGuestStateValid<TVmcs>(TVmcs vmcs)
        where TVmcs : IVmcsFields
    {
        var rflags = vmcs.Read(VmcsField.GuestRflags);
        return (rflags & Rflags.Fixed1) != 0 && (rflags & Rflags.Reserved) == 0
            && (vmcs.Read(VmcsField.GuestGdtrLimit) >> 16) == 0 && (vmcs.Read(VmcsField.GuestIdtrLimit) >> 16) == 0;
    }

    /// <summary>The exit qualification of a guest-state entry failure: ENTRY_FAIL_DEFAULT.</summary>
    internal const ulong EntryFailDefault = 0;

    /// <summary>The exit qualification of an entry failing on the VMCS link pointer: ENTRY_FAIL_VMCS_LINK_PTR.</summary>
    internal const ulong EntryFailVmcsLinkPtr = 4;

    /// <summary>VMCS_LINK_POINTER's "no shadow VMCS" value (KVM's INVALID_GPA).</summary>
    internal const ulong NoVmcsLink = ulong.MaxValue;

    /// <summary>
    /// <c>nested_host_cr0_valid</c> and <c>nested_guest_cr0_valid</c> (the model offers no unrestricted guest): only
    /// IA32_VMX_CR0_FIXED0/1, so PE, NE and PG set and bits 63:32 clear. NW without CD passes: KVM keeps NW and CD out
    /// of the hardware's CR0 (KVM_VM_CR0_ALWAYS_OFF), so no check ever sees them.
    /// </summary>
    internal static bool IsValidNestedCr0(ulong value) =>
        (value & ~VmxCapabilities.Cr0Fixed1) == 0 && (value & VmxCapabilities.Cr0Fixed0) == VmxCapabilities.Cr0Fixed0;

    /// <summary>
    /// <c>nested_vmx_check_vmcs_link_ptr</c>: all ones, or a valid page address whose region starts with the VMCS
    /// revision identifier and a clear shadow-VMCS bit (the model offers no VMCS shadowing). <paramref name="header"/>
    /// is the region's first dword, null where guest memory does not back it.
    /// </summary>
    internal static bool IsValidVmcsLinkPointer(ulong link, int maxPhysAddr, uint? header) =>
        link == NoVmcsLink || (VmxOps.PageAddressValid(maxPhysAddr, link) && header == VmxCapabilities.Revision);
}
