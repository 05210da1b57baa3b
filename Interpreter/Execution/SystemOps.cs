using CpuidFunctional.Core.Dynamic;
using CpuidFunctional.Interpreter.Machine;

namespace CpuidFunctional.Interpreter.Execution;

/// <summary>
/// System instructions as L0 executes them. At L1 the ones KVM intercepts become Core events (CPUID, XSETBV,
/// RDMSR/WRMSR of MSRs Core knows, MOV to CR4). In L2 only the ones L1 does not want get here
/// (<see cref="VmxReflect"/> decided before): MOV to/from CR0/CR4 with L1's owned bits, PAUSE, HLT, IN/OUT and the
/// never-intercepted ones.
/// </summary>
internal static class SystemOps
{
    public static StopReason? Step(ref Cpu c, Insn i, RunLog log) =>
        i.Op switch
        {
            Op.Pause => Pause(ref c, i),
            Op.Cpuid => Cpuid(ref c, i, log),
            Op.Xgetbv => Xgetbv(ref c, i, log),
            Op.Xsetbv => Xsetbv(ref c, i, log),
            Op.Rdmsr => Rdmsr(ref c, i, log),
            Op.Wrmsr => Wrmsr(ref c, i, log),
            Op.MovToCr => i.A.Register == 4 ? MovToCr4(ref c, i, log) : MovToCr0(ref c, i, log),
            Op.MovFromCr => MovFromCr(ref c, i),
            Op.Hlt => Hlt(i, c.InL2),
            Op.Out => Out(ref c, i, log),
            Op.In => In(ref c, i, log),
            Op.Rdpkru => Rdpkru(ref c, i, log),
            Op.Wrpkru => Wrpkru(ref c, i, log),
            _ => new StopReason.Unsupported(c.Level, i.Rip, i.HexBytes, i.Text, $"no semantics for {i.Op}"),
        };

    private static StopReason? Pause(ref Cpu c, Insn i)
    {
        c.Rip = i.NextRip;
        return null;
    }

    /// <summary>CPUID at L1: <c>kvm_emulate_cpuid</c> (the observation point). In L2 it always exits, so L0 never answers it.</summary>
    private static StopReason? Cpuid(ref Cpu c, Insn i, RunLog log)
    {
        var leaf = (uint)c.Gprs[Registers.Rax];
        var subleaf = (uint)c.Gprs[Registers.Rcx];
        var observation = log.Apply(ref c, log.Events.Cpuid(leaf, subleaf), i.Rip, c.Level);
        if (observation is Observation.CpuidResult r)
        {
            c.Gprs[Registers.Rax] = r.Eax;
            c.Gprs[Registers.Rbx] = r.Ebx;
            c.Gprs[Registers.Rcx] = r.Ecx;
            c.Gprs[Registers.Rdx] = r.Edx;
            c.Rip = i.NextRip;
            return null;
        }
        return FaultFromCore(c, i, observation);
    }

    /// <summary>XGETBV (never intercepted): #UD without CR4.OSXSAVE; XCR0; XCR1 (XINUSE, modelled as XCR0) only with XGETBV1.</summary>
    private static StopReason? Xgetbv(ref Cpu c, Insn i, RunLog log)
    {
        if ((c.Cr4 & Cr4.OsXsave) == 0)
        {
            return log.Raise(c, i, X86Exception.UD);
        }
        var index = (uint)c.Gprs[Registers.Rcx];
        if (index > 1 || (index == 1 && !GuestCpuCaps.Has(c.Kvm.Vcpu, GuestFeature.Xgetbv1)))
        {
            return log.Raise(c, i, X86Exception.GP);
        }
        var xcr0 = c.Kvm.Vcpu.Xcr0;
        c.Gprs[Registers.Rax] = xcr0 & 0xFFFF_FFFF;
        c.Gprs[Registers.Rdx] = xcr0 >> 32;
        c.Rip = i.NextRip;
        return null;
    }

    /// <summary>XSETBV at L1: <c>kvm_emulate_xsetbv</c> (Core checks CR4.OSXSAVE and the value). In L2 it faults or exits.</summary>
    private static StopReason? Xsetbv(ref Cpu c, Insn i, RunLog log)
    {
        var value = (c.Gprs[Registers.Rdx] << 32) | (c.Gprs[Registers.Rax] & 0xFFFF_FFFF);
        var observation = log.Apply(ref c, log.Events.Xsetbv((uint)c.Gprs[Registers.Rcx], value), i.Rip, c.Level);
        if (observation is null)
        {
            c.Rip = i.NextRip;
            return null;
        }
        return FaultFromCore(c, i, observation);
    }

    /// <summary>RDMSR: the SVM MSRs and the VMX capability MSRs are answered here, the rest by Core. In L2 it gets here only under nested SVM without an MSR intercept.</summary>
    private static StopReason? Rdmsr(ref Cpu c, Insn i, RunLog log)
    {
        var index = (uint)c.Gprs[Registers.Rcx];
        if (SvmOps.OwnsMsr(index))
        {
            return SvmOps.Rdmsr(ref c, i, index);
        }
        ulong value;
        if (VmxCapabilities.OwnsMsr(index))
        {
            if (VmxCapabilities.ReadMsr(index) is not { } v)
            {
                return log.Raise(c, i, X86Exception.GP);
            }
            value = v;
        }
        else
        {
            var observation = log.Apply(ref c, log.Events.Rdmsr(index), i.Rip, c.Level);
            if (observation is not Observation.MsrValue read)
            {
                return FaultFromCore(c, i, observation);
            }
            value = read.Value;
        }
        c.Gprs[Registers.Rax] = value & 0xFFFF_FFFF;
        c.Gprs[Registers.Rdx] = value >> 32;
        c.Rip = i.NextRip;
        return null;
    }

    /// <summary>WRMSR: the SVM MSRs are written here, the VMX MSRs and the locked IA32_FEATURE_CONTROL are read-only (#GP), the rest go to Core. In L2 it gets here only under nested SVM without an MSR intercept.</summary>
    private static StopReason? Wrmsr(ref Cpu c, Insn i, RunLog log)
    {
        var index = (uint)c.Gprs[Registers.Rcx];
        var value = (c.Gprs[Registers.Rdx] << 32) | (c.Gprs[Registers.Rax] & 0xFFFF_FFFF);
        if (SvmOps.OwnsMsr(index))
        {
            return SvmOps.Wrmsr(ref c, i, index, value, log);
        }
        if (VmxCapabilities.OwnsMsr(index))
        {
            return log.Raise(c, i, X86Exception.GP);
        }
        var observation = log.Apply(ref c, log.Events.Wrmsr(index, value), i.Rip, c.Level);
        if (observation is null)
        {
            c.Rip = i.NextRip;
            return null;
        }
        return FaultFromCore(c, i, observation);
    }

    /// <summary>
    /// MOV to CR4. In L2 (L1 did not want it: no owned bit changes from its read shadow) L0 applies it and L1-owned
    /// bits (set in CR4_GUEST_HOST_MASK) keep their value: Core's <c>handle_set_cr4</c>, which gets the source
    /// operand. Then KVM's checks (<c>kvm_set_cr4</c>) of the value set: VMXE must stay set in VMX operation (nested
    /// fixed bits), and CET needs this machine's CR0.WP (<see cref="Kvm.CetWithoutWp"/>: Core holds CR0 as the VMM set
    /// it at start, not as MOV to CR0 left it); the rest, long mode's rules among them, is Core's <c>kvm_set_cr4</c>.
    /// </summary>
    private static StopReason? MovToCr4(ref Cpu c, Insn i, RunLog log)
    {
        var source = Operands.ReadGpr(c, i.B);
        var value = Kvm.HandleSetCr4(c.Kvm.Vcpu, source);
        var leavesVmx = c.Vmx.On && (value & VmxCapabilities.Cr4Fixed0) != VmxCapabilities.Cr4Fixed0;
        if (leavesVmx || Kvm.CetWithoutWp(c.Kvm.Vm.Profile, c.Cr0, value))
        {
            return log.Raise(c, i, X86Exception.GP);
        }
        var observation = log.Apply(ref c, log.Events.MovToCr4(source), i.Rip, c.Level);
        if (observation is null)
        {
            c.Rip = i.NextRip;
            return null;
        }
        return FaultFromCore(c, i, observation);
    }

    /// <summary>
    /// MOV to CR0 (not an input of dynamic CPUID: kept by the interpreter). In L2 L1-owned bits keep their value, as
    /// for CR4. #GP for bits 63:32, NW without CD, PG without PE, leaving long mode, clearing PE, NE or PG in VMX
    /// operation, and clearing WP while CR4.CET is set where the profile forbids it (<see cref="Kvm.CetWithoutWp"/>).
    /// </summary>
    private static StopReason? MovToCr0(ref Cpu c, Insn i, RunLog log)
    {
        var value = KeepOwnedBits(c, Operands.ReadGpr(c, i.B), c.Cr0, VmcsField.Cr0GuestHostMask);
        if (!IsValidCr0(value, c.Vmx.On) || Kvm.CetWithoutWp(c.Kvm.Vm.Profile, value, c.Cr4))
        {
            return log.Raise(c, i, X86Exception.GP);
        }
        c.Cr0 = value;
        c.Rip = i.NextRip;
        return null;
    }

    /// <summary>
    /// A MOV to CR0/CR4 that L0 handles for L2 (<c>handle_set_cr0</c>/<c>handle_set_cr4</c> in guest mode): the bits
    /// L1 owns keep their current value, the rest come from the source. At L1, the source as it is.
    /// </summary>
    private static ulong KeepOwnedBits(in Cpu c, ulong value, ulong current, uint maskField)
    {
        if (!c.InL2)
        {
            return value;
        }
        var mask = c.Vmx.Read(maskField);
        return (value & ~mask) | (current & mask);
    }

    /// <summary>CR0 rules in 64-bit mode (and the VMX fixed-0 bits when in VMX operation).</summary>
    public static bool IsValidCr0(ulong value, bool inVmx)
    {
        if ((value >> 32) != 0)
        {
            return false;
        }
        if ((value & MachineLayout.Cr0Nw) != 0 && (value & MachineLayout.Cr0Cd) == 0)
        {
            return false;
        }
        if ((value & MachineLayout.Cr0Pg) == 0 || (value & MachineLayout.Cr0Pe) == 0)
        {
            return false; // PG without PE, or leaving long mode from 64-bit code
        }
        return !inVmx || (value & VmxCapabilities.Cr0Fixed0) == VmxCapabilities.Cr0Fixed0;
    }

    /// <summary>MOV from CR0/CR4 (never an exit): in L2 the bits L1 owns read from the read shadows.</summary>
    private static StopReason? MovFromCr(ref Cpu c, Insn i)
    {
        var cr4 = i.B.Register == 4;
        var value = cr4 ? c.Cr4 : c.Cr0;
        if (c.InL2)
        {
            var mask = c.Vmx.Read(cr4 ? VmcsField.Cr4GuestHostMask : VmcsField.Cr0GuestHostMask);
            var shadow = c.Vmx.Read(cr4 ? VmcsField.Cr4ReadShadow : VmcsField.Cr0ReadShadow);
            value = (value & ~mask) | (shadow & mask);
        }
        c.Gprs[i.A.Register] = value;
        c.Rip = i.NextRip;
        return null;
    }

    /// <summary>HLT: ends the run at L1; in L2 (no HLT exiting, else L1 would have it) L2 sleeps forever and the run stops.</summary>
    private static StopReason? Hlt(Insn i, bool inL2) => inL2 ? new StopReason.L2Halted(i.Rip) : new StopReason.Halted(i.Rip);

    /// <summary>OUT: reported to the host (L0's userspace), from either level.</summary>
    private static StopReason? Out(ref Cpu c, Insn i, RunLog log)
    {
        log.Outputs.Add(new PortOutput(c.Level, Operands.IoPort(c, i).Port, (uint)Operands.ReadGpr(c, i.B), i.OpSize));
        c.Rip = i.NextRip;
        return null;
    }

    /// <summary>IN: no device answers, so all ones (a floating bus).</summary>
    private static StopReason? In(ref Cpu c, Insn i, RunLog log) => Operands.WriteAndNext(ref c, i, i.A, Alu.Mask(i.OpSize), c.Rflags, log);

    /// <summary>RDPKRU: #UD unless CR4.PKE, #GP unless ECX = 0; EAX = PKRU, EDX = 0.</summary>
    private static StopReason? Rdpkru(ref Cpu c, Insn i, RunLog log)
    {
        if ((c.Cr4 & Cr4.Pke) == 0)
        {
            return log.Raise(c, i, X86Exception.UD);
        }
        if ((uint)c.Gprs[Registers.Rcx] != 0)
        {
            return log.Raise(c, i, X86Exception.GP);
        }
        c.Gprs[Registers.Rax] = c.Pkru;
        c.Gprs[Registers.Rdx] = 0;
        c.Rip = i.NextRip;
        return null;
    }

    /// <summary>WRPKRU: #UD unless CR4.PKE, #GP unless ECX = EDX = 0; PKRU = EAX.</summary>
    private static StopReason? Wrpkru(ref Cpu c, Insn i, RunLog log)
    {
        if ((c.Cr4 & Cr4.Pke) == 0)
        {
            return log.Raise(c, i, X86Exception.UD);
        }
        if ((uint)c.Gprs[Registers.Rcx] != 0 || (uint)c.Gprs[Registers.Rdx] != 0)
        {
            return log.Raise(c, i, X86Exception.GP);
        }
        c.Pkru = (uint)c.Gprs[Registers.Rax];
        c.Rip = i.NextRip;
        return null;
    }

    /// <summary>A Core refusal (#GP/#UD observation, already logged) as the step's stop; the stepper delivers it like <see cref="RunLog.Raise"/>'s.</summary>
    private static StopReason FaultFromCore(in Cpu c, Insn i, Observation? observation) =>
        observation is Observation.Fault f
            ? new StopReason.UnhandledFault(c.Level, i.Rip, f.Vector)
            : new StopReason.Unsupported(c.Level, i.Rip, i.HexBytes, i.Text, $"unexpected Core observation {observation}");
}
