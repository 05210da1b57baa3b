using CpuidFunctional.Core.Dynamic;
using CpuidFunctional.Interpreter.Machine;

namespace CpuidFunctional.Interpreter.Execution;

/// <summary>
/// The SVM instructions and MSRs as L0 emulates them (KVM's <c>vmrun_interception</c>,
/// <c>vmload_vmsave_interception</c>, <c>stgi_interception</c>, <c>clgi_interception</c>, the VMMCALL hypercall,
/// and the EFER, VM_HSAVE_PA and VM_CR cases of <c>svm_set_msr</c>/<c>svm_get_msr</c>). In L2 they get here only
/// when vmcb12 does not intercept them (<see cref="SvmReflect"/>).
/// </summary>
internal static class SvmOps
{
    /// <summary>KVM_ENOSYS: the hypercall number is unknown (returned negated in RAX).</summary>
    private const ulong KvmEnosys = 1000;

    /// <summary>KVM_EPERM: a hypercall from CPL &gt; 0.</summary>
    private const ulong KvmEperm = 1;

    public static StopReason? Step(ref Cpu c, Insn i, RunLog log)
    {
        if (i.Op == Op.Vmmcall)
        {
            return c.InL2 ? new StopReason.Unsupported(2, i.Rip, i.HexBytes, i.Text, SvmReflect.VmmcallLoops) : Hypercall(ref c, i);
        }
        if (c.InL2)
        {
            return new StopReason.Unsupported(2, i.Rip, i.HexBytes, i.Text, "SVM instructions L1 does not intercept in L2 (nested-nested SVM) are not modelled");
        }
        // nested_svm_check_permissions: #UD without EFER.SVME (paging is always on here), #GP at CPL > 0.
        if ((c.Efer & Efer.Svme) == 0)
        {
            return log.Raise(c, i, X86Exception.UD);
        }
        if (c.Kvm.Vcpu.Cpl != 0)
        {
            return log.Raise(c, i, X86Exception.GP);
        }
        switch (i.Op)
        {
            case Op.Vmrun:
                return SvmNested.Vmrun(ref c, i, log);
            case Op.Vmload:
            case Op.Vmsave:
                // kvm_vcpu_map of RAX's page: #GP outside guest memory. The hidden state they move (FS, GS, TR, LDTR,
                // KernelGsBase, STAR family, SYSENTER MSRs) is not modelled, so nothing else changes.
                if (!c.Memory.Contains(VmcbPage(c), Vmcb12.Size))
                {
                    return log.Raise(c, i, X86Exception.GP);
                }
                c.Rip = i.NextRip;
                return null;
            case Op.Stgi:
            case Op.Clgi:
                c.Svm = c.Svm with { Gif = i.Op == Op.Stgi };
                c.Rip = i.NextRip;
                return null;
            default:
                return new StopReason.Unsupported(c.Level, i.Rip, i.HexBytes, i.Text, $"no semantics for {i.Op}");
        }
    }

    /// <summary>The page VMRUN, VMLOAD and VMSAVE take from RAX (KVM maps <c>gpa_to_gfn(rax)</c>; the offset is ignored).</summary>
    internal static ulong VmcbPage(in Cpu c) => c.Gprs[Registers.Rax] & ~0xFFFul;

    /// <summary>
    /// A VMCALL or VMMCALL that reaches L0 (<c>kvm_emulate_hypercall</c>): RAX gets the result of
    /// <see cref="HypercallResult"/> and the instruction is skipped; a hypercall the model does not know stops the run.
    /// </summary>
    internal static StopReason? Hypercall(ref Cpu c, Insn i)
    {
        if (HypercallResult(c.Kvm.Vcpu.Cpl, c.Gprs[Registers.Rax]) is not { } result)
        {
            return new StopReason.Unsupported(c.Level, i.Rip, i.HexBytes, i.Text, $"hypercall {c.Gprs[Registers.Rax]} is not modelled");
        }
        c.Gprs[Registers.Rax] = result;
        c.Rip = i.NextRip;
        return null;
    }

    /// <summary>
    /// The EFER bits the guest may set (<c>kvm_valid_efer</c>, Core's <see cref="Kvm.EferValidBits"/>), SVME only when
    /// <paramref name="withSvme"/> (a VMX host's EFER never has it).
    /// </summary>
    internal static ulong AllowedEfer(in Cpu c, bool withSvme) =>
        Kvm.EferValidBits(c.Kvm.Vm.Host, c.Kvm.Vm.Profile, c.Kvm.Vcpu.Guest.Features) & (withSvme ? ulong.MaxValue : ~Efer.Svme);

    /// <summary>Whether an EFER write clears SVME (<c>svm_set_efer</c>: L1 leaves SVM, and GIF becomes 1).</summary>
    internal static bool LeavesSvm(ulong oldEfer, ulong newEfer) => (oldEfer & Efer.Svme) != 0 && (newEfer & Efer.Svme) == 0;

    /// <summary>
    /// <c>kvm_emulate_hypercall</c>'s RAX for hypercall <paramref name="nr"/> (the guest's RAX) with no Xen or Hyper-V
    /// hypercalls enabled and PV features not enforced: −KVM_EPERM above CPL 0; 0 for KVM_HC_VAPIC_POLL_IRQ (1),
    /// KVM_HC_KICK_CPU (5) and KVM_HC_SCHED_YIELD (11), whose effects (a kick, a yield) the model cannot see;
    /// −KVM_ENOSYS for numbers KVM does not know. Null for the ones whose result depends on state the model lacks:
    /// KVM_HC_CLOCK_PAIRING (9), KVM_HC_SEND_IPI (10), KVM_HC_MAP_GPA_RANGE (12).
    /// </summary>
    internal static ulong? HypercallResult(byte cpl, ulong nr) =>
        cpl != 0 ? unchecked(0 - KvmEperm)
        : nr switch
        {
            1 or 5 or 11 => 0,
            9 or 10 or 12 => null,
            _ => unchecked(0 - KvmEnosys),
        };

    /// <summary>The MSRs this class answers instead of Core.</summary>
    public static bool OwnsMsr(uint index) => index is Msr.Efer or Msr.VmCr or Msr.VmHsavePa;

    /// <summary>RDMSR of EFER, VM_HSAVE_PA or VM_CR (KVM keeps VM_CR at 0: SVM enabled, not locked).</summary>
    public static StopReason? Rdmsr(ref Cpu c, Insn i, uint index)
    {
        var value = index switch
        {
            Msr.Efer => c.Efer,
            Msr.VmHsavePa => c.Svm.HsavePa,
            _ => 0ul,
        };
        c.Gprs[Registers.Rax] = value & 0xFFFF_FFFF;
        c.Gprs[Registers.Rdx] = value >> 32;
        c.Rip = i.NextRip;
        return null;
    }

    /// <summary>
    /// WRMSR of EFER, VM_HSAVE_PA or VM_CR. EFER keeps LME (64-bit mode) and LMA (read-only) and takes the bits of
    /// <see cref="AllowedEfer"/>; VM_HSAVE_PA must be a page address within MAXPHYADDR
    /// (<c>page_address_valid</c>); #GP otherwise.
    /// </summary>
    public static StopReason? Wrmsr(ref Cpu c, Insn i, uint index, ulong value, RunLog log)
    {
        switch (index)
        {
            case Msr.Efer:
                {
                    if (Efer.Set(c.Efer, c.Cr0, value, hostInitiated: false, Kvm.EferKvmBits(c.Kvm.Vm.Host, c.Kvm.Vm.Profile), AllowedEfer(c, withSvme: true)) is not { } efer)
                    {
                        return log.Raise(c, i, X86Exception.GP);
                    }
                    if (c.InL2 && (value & Efer.Svme) == 0)
                    {
                        return new StopReason.Unsupported(2, i.Rip, i.HexBytes, i.Text, "L2 clearing EFER.SVME (svm_set_efer leaves nested mode) is not modelled");
                    }
                    if (LeavesSvm(c.Efer, value))
                    {
                        c.Svm = c.Svm with { Gif = true }; // svm_set_efer: clearing SVME sets GIF
                    }
                    c.Efer = efer;
                    break;
                }
            case Msr.VmHsavePa:
                if (!VmxOps.PageAddressValid(GuestCpuCaps.MaxPhysAddr(c.Kvm.Vcpu), value))
                {
                    return log.Raise(c, i, X86Exception.GP);
                }
                c.Svm = c.Svm with { HsavePa = value };
                break;
            default:
                return new StopReason.Unsupported(c.Level, i.Rip, i.HexBytes, i.Text, "VM_CR writes are not modelled");
        }
        c.Rip = i.NextRip;
        return null;
    }
}
