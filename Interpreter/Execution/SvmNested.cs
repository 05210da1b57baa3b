using CpuidFunctional.Core.Dynamic;
using CpuidFunctional.Interpreter.Machine;

namespace CpuidFunctional.Interpreter.Execution;

/// <summary>
/// Nested SVM entry and exit (spec §8; KVM's <c>nested_svm_vmrun</c>, <c>nested_vmcb_check_save</c>,
/// <c>nested_vmcb_check_controls</c>, <c>enter_svm_guest_mode</c>, <c>nested_svm_vmexit</c>). The CR4 loads go to Core
/// as <see cref="VcpuEvent.NestedSvmVmrun"/> (with vmcb12's CPUID/XSETBV intercepts) and
/// <see cref="VcpuEvent.NestedSvmVmexit"/>. Called by VMRUN (<see cref="SvmOps"/>) and, for exits, by the stepper only.
/// </summary>
internal static class SvmNested
{
    // The #VMEXIT event carries nothing (L1's CR4 is Core's): one instance for every exit.
    private static readonly VcpuEvent.NestedSvmVmexit VmexitEvent = new();

    /// <summary>
    /// VMRUN at L1 (EFER.SVME and CPL already checked): #GP without VM_HSAVE_PA or for a vmcb12 page outside memory;
    /// a vmcb12 failing its checks is VMEXIT_INVALID (L1 continues after VMRUN with GIF clear); otherwise L1's
    /// registers go to vmcb01, Core loads save.cr4, and L2 runs from vmcb12's save area.
    /// </summary>
    public static StopReason? Vmrun(ref Cpu c, Insn i, RunLog log)
    {
        if (c.Svm.HsavePa == 0)
        {
            return log.Raise(c, i, X86Exception.GP);
        }
        var page = SvmOps.VmcbPage(c);
        if (!c.Memory.Contains(page, Vmcb12.Size))
        {
            return log.Raise(c, i, X86Exception.GP);
        }
        var vmcb = log.Vmcb12Reads.Read(c.Memory, page);
        if ((vmcb.EventInj & (1u << 31)) != 0)
        {
            return new StopReason.Unsupported(1, i.Rip, i.HexBytes, i.Text, "VMRUN event injection is not modelled");
        }
        if (!IsValidSave(c, vmcb) || !IsValidControls(c, vmcb))
        {
            log.Observations.Add(new RunObservation.SvmVmrunInvalid(i.Rip));
            c.Memory = log.MemoryVersions.WriteInPage(
                c.Memory,
                page,
                [new(Vmcb12.ExitCodeOffset, 4, 0xFFFF_FFFF), new(Vmcb12.ExitCodeHiOffset, 4, VmexitInvalidCodeHi), new(Vmcb12.ExitInfo1Offset, 8, 0), new(Vmcb12.ExitInfo2Offset, 8, 0)]
            );
            c.Svm = c.Svm with { Gif = false }; // "Clear GIF on nested #VMEXIT(INVALID)", a 2026 stable fix
            c.Rip = i.NextRip;
            return null;
        }
        if ((vmcb.Efer & MachineLayout.EferLma) == 0 || (vmcb.Cr0 & MachineLayout.Cr0Pg) == 0)
        {
            return new StopReason.Unsupported(1, i.Rip, i.HexBytes, i.Text, "only 64-bit L2 guests are modelled (save.efer.LMA and save.cr0.PG)");
        }
        var host = new SvmHostState(i.NextRip, c.Gprs[Registers.Rsp], c.Gprs[Registers.Rax], c.Rflags, c.Cr0, c.Efer);
        if (log.Apply(ref c, log.Events.NestedSvmVmrun(vmcb.Cr4, vmcb.CoreIntercepts), i.Rip, 1) is { } refused)
        {
            return refused is Observation.Fault f
                ? new StopReason.UnhandledFault(1, i.Rip, f.Vector)
                : new StopReason.Unsupported(1, i.Rip, i.HexBytes, i.Text, $"unexpected Core observation {refused}");
        }
        c.Svm = c.Svm with { Vmcb = vmcb, VmcbPa = page, Host = host, Gif = true };
        // nested_vmcb02_prepare_save: L2's RFLAGS is save.rflags with the always-one bit 1 (X86_EFLAGS_FIXED).
        Load(ref c, new SvmHostState(vmcb.Rip, vmcb.Rsp, vmcb.Rax, vmcb.Rflags | Rflags.Fixed1, vmcb.Cr0, vmcb.Efer), inL2: true);
        return null;
    }

    /// <summary>
    /// exit_code_hi of VMEXIT_INVALID: SVM_EXIT_ERR is -1 as a 64-bit code, so KVM writes all ones into the high half
    /// too (the December 2025 fix "Set exit_code_hi to -1 when synthesizing SVM_EXIT_ERR", in the stable kernels the
    /// profiles stand for: Debian's 6.1.192 and 6.18.44; earlier releases wrote 0).
    /// </summary>
    internal const uint VmexitInvalidCodeHi = 0xFFFF_FFFF;

    /// <summary>
    /// EXITINFO2 of a #VMEXIT: for an intercepted IN/OUT the address of the next instruction (SVM_EXIT_IOIO), for the
    /// other exits the model takes 0.
    /// </summary>
    internal static ulong ExitInfo2(ulong code, ulong nextRip) => code == SvmExitCode.Ioio ? nextRip : 0;

    /// <summary>
    /// save.dr7 and save.dr6 written back by a #VMEXIT (<c>nested_svm_vmexit</c>): what VMRUN loaded
    /// (<c>nested_vmcb02_prepare_save</c>: DR7 with its always-one bit 10, DR6 with its active-low bits), since L2 cannot
    /// change them in the model. (KVM loads them only for a new vmcb12 or one whose clean bits mark DR dirty; the model
    /// reads no clean bits.)
    /// </summary>
    internal static (ulong Dr7, ulong Dr6) DebugRegistersAfterVmrun(ulong dr7, ulong dr6) => (dr7 | Dr7Fixed1, dr6 | Dr6ActiveLow);

    private const ulong Dr7Fixed1 = 0x400;
    private const ulong Dr6ActiveLow = 0xFFFF_0FF0;

    /// <summary>Whether a #VMEXIT code is for an intercepted instruction (then vmcb12's next_rip is set), not for an exception or a shutdown.</summary>
    internal static bool IsInstructionExit(ulong code) =>
        code is not (SvmExitCode.Shutdown or (>= SvmExitCode.ExceptionBase and < SvmExitCode.ExceptionBase + 32));

    /// <summary>
    /// A #VMEXIT from L2 at instruction <paramref name="i"/> (not executed), as <see cref="SvmReflect"/> decided it:
    /// exit code, EXITINFO1/2, EXITINTINFO and EVENTINJ (0), next RIP (for an intercepted instruction), DR7/DR6 and
    /// L2's state go into vmcb12; Core restores L1's CR4 from vmcb01; L1 continues after its VMRUN with GIF clear.
    /// </summary>
    public static StopReason? Vmexit(ref Cpu c, Insn i, Reflection.ExitToL1 exit, RunLog log)
    {
        var page = c.Svm.VmcbPa;
        var code = (ulong)exit.Reason;
        var instruction = IsInstructionExit(code);
        // nested_svm_vmexit copies next_rip only with nrips_enabled; otherwise vmcb12 keeps what L1 left there (the
        // field is rewritten with its own value, so one page copy still writes all sixteen slots). EXITINTINFO is 0:
        // nested_save_pending_event_to_vmcb12 finds no event being delivered, as the model injects none.
        var nextRip = Core.Model.Kvm.NestedSvmNripsEnabled(c.Kvm.Vm, c.Kvm.Vcpu)
            ? (instruction ? i.NextRip : 0)
            : c.Memory.Read(page + Vmcb12.NextRipOffset, 8);
        var (dr7, dr6) = DebugRegistersAfterVmrun(c.Svm.Vmcb!.Dr7, c.Svm.Vmcb.Dr6);
        // One copy of the vmcb12 page for all sixteen fields (a Write per field would copy it sixteen times). EVENTINJ and
        // its error code are 0: "Clear EVENTINJ fields in vmcb12 on nested #VMEXIT" (a 2026 stable fix).
        c.Memory = log.MemoryVersions.WriteInPage(
            c.Memory,
            page,
            [
                new(Vmcb12.ExitCodeOffset, 4, code), new(Vmcb12.ExitCodeHiOffset, 4, 0), new(Vmcb12.ExitInfo1Offset, 8, exit.Qualification),
                new(Vmcb12.ExitInfo2Offset, 8, ExitInfo2(code, i.NextRip)), new(Vmcb12.ExitIntInfoOffset, 4, 0), new(Vmcb12.NextRipOffset, 8, nextRip),
                new(Vmcb12.Dr7Offset, 8, dr7), new(Vmcb12.Dr6Offset, 8, dr6), new(Vmcb12.EventInjOffset, 8, 0), new(Vmcb12.EferOffset, 8, c.Efer),
                new(Vmcb12.Cr4Offset, 8, c.Cr4), new(Vmcb12.Cr0Offset, 8, c.Cr0), new(Vmcb12.RflagsOffset, 8, c.Rflags),
                new(Vmcb12.RipOffset, 8, i.Rip), new(Vmcb12.RspOffset, 8, c.Gprs[Registers.Rsp]), new(Vmcb12.RaxOffset, 8, c.Gprs[Registers.Rax]),
            ]
        );
        log.Apply(ref c, VmexitEvent, i.Rip, 2);
        var host = c.Svm.Host;
        c.Svm = c.Svm with { Vmcb = null, Gif = false };
        Load(ref c, host, inL2: false);
        return null;
    }

    /// <summary>The registers VMRUN and #VMEXIT switch (L1 and L2 share the other general-purpose registers).</summary>
    private static void Load(ref Cpu c, in SvmHostState s, bool inL2)
    {
        c.Gprs[Registers.Rax] = s.Rax;
        c.Gprs[Registers.Rsp] = s.Rsp;
        c.Rip = s.Rip;
        c.Rflags = s.Rflags;
        c.Cr0 = s.Cr0;
        c.Efer = s.Efer;
        c.InL2 = inL2;
    }

    /// <summary>
    /// <c>nested_vmcb_check_save</c>, as far as modelled: EFER.SVME set and no EFER bit the guest may not set
    /// (<c>kvm_valid_efer</c>, <see cref="SvmOps.AllowedEfer"/>); CR0 without bits 63:32 and without NW-without-CD; DR6 and DR7 without bits 63:32
    /// (<c>kvm_dr6_valid</c>, <c>kvm_dr7_valid</c>); with EFER.LME and CR0.PG, CR4.PAE, CR0.PE, a CR3 within
    /// MAXPHYADDR and not both CS.L and CS.D; CR4 valid for the guest (<c>__kvm_is_valid_cr4</c>). Failure is VMEXIT_INVALID.
    /// </summary>
    internal static bool IsValidSave(in Cpu c, Vmcb12 vmcb) =>
        IsValidSaveState(new(vmcb.Efer, vmcb.Cr0, vmcb.Cr4, vmcb.Cr3, vmcb.Dr6, vmcb.Dr7, vmcb.CsAttrib), GuestCpuCaps.MaxPhysAddr(c.Kvm.Vcpu), SvmOps.AllowedEfer(c, withSvme: true))
            && Kvm.IsValidCr4(c.Kvm.Vcpu, vmcb.Cr4);

    /// <summary>The save-area registers <see cref="IsValidSave"/> checks.</summary>
    internal readonly record struct SaveState(ulong Efer, ulong Cr0, ulong Cr4, ulong Cr3, ulong Dr6, ulong Dr7, ushort CsAttrib);

    /// <summary>The part of <see cref="IsValidSave"/> that needs no vCPU: all of it but the CR4 check against the guest's features, with the EFER bits given (<see cref="SvmOps.AllowedEfer"/>).</summary>
    internal static bool IsValidSaveState(SaveState s, int maxPhysAddr, ulong allowedEfer)
    {
        if ((s.Efer & Efer.Svme) == 0 || (s.Efer & ~allowedEfer) != 0)
        {
            return false;
        }
        if ((s.Cr0 >> 32) != 0 || ((s.Cr0 & MachineLayout.Cr0Cd) == 0 && (s.Cr0 & MachineLayout.Cr0Nw) != 0))
        {
            return false;
        }
        if ((s.Dr6 >> 32) != 0 || (s.Dr7 >> 32) != 0)
        {
            return false;
        }
        return (s.Efer & MachineLayout.EferLme) == 0 || (s.Cr0 & MachineLayout.Cr0Pg) == 0
            || ((s.Cr4 & Cr4.Pae) != 0 && (s.Cr0 & MachineLayout.Cr0Pe) != 0 && Nested.IsLegalGpa(s.Cr3, maxPhysAddr)
                && (s.CsAttrib & CsLongAndDefaultBig) != CsLongAndDefaultBig);
    }

    // save.cs.attrib's L (bit 9) and D/B (bit 10): both set in long mode is reserved (a 2026 stable fix checks it in
    // software; before, the processor's VMRUN failed the same way).
    private const ushort CsLongAndDefaultBig = (1 << 9) | (1 << 10);

    /// <summary>
    /// <c>nested_vmcb_check_controls</c>, as far as modelled: the VMRUN intercept set, a non-zero ASID, and the I/O and
    /// MSR permission maps (12 KiB and 8 KiB from their page) within MAXPHYADDR.
    /// </summary>
    internal static bool IsValidControls(in Cpu c, Vmcb12 vmcb) =>
        IsValidControls(GuestCpuCaps.MaxPhysAddr(c.Kvm.Vcpu), vmcb.Word4, vmcb.Asid, vmcb.IopmBasePa, vmcb.MsrpmBasePa);

    /// <summary><see cref="IsValidControls(in Cpu, Vmcb12)"/> on the fields themselves.</summary>
    internal static bool IsValidControls(int maxPhysAddr, uint word4, uint asid, ulong iopmBasePa, ulong msrpmBasePa) =>
        (word4 & Vmcb12.InterceptVmrun) != 0
            && asid != 0
            && IsLegalBitmap(maxPhysAddr, iopmBasePa, 0x3000)
            && IsLegalBitmap(maxPhysAddr, msrpmBasePa, 0x2000);

    /// <summary>
    /// <c>nested_svm_check_bitmap_pa</c>: the map's page and its last byte are legal guest-physical addresses. KVM's
    /// cached copy of the controls already masked the base to its page (<c>__nested_copy_vmcb_control_to_cache</c>), so
    /// the check's PAGE_ALIGN changes nothing.
    /// </summary>
    private static bool IsLegalBitmap(int maxPhysAddr, ulong pa, ulong size)
    {
        var start = pa & ~0xFFFul;
        var last = start + size - 1;
        return last >= start && (start >> maxPhysAddr) == 0 && (last >> maxPhysAddr) == 0;
    }
}
