using CpuidFunctional.Core.Dynamic;
using CpuidFunctional.Core.Model;
using CpuidFunctional.Core.State;

namespace CpuidFunctional.Interpreter;

/// <summary>
/// System instructions. At L1 the ones KVM intercepts become Core events (CPUID, XSETBV, RDMSR/WRMSR of MSRs Core
/// knows, MOV to CR4); in L2 the ones VMX makes exit go to L1 through <see cref="Nested.Exit"/>.
/// </summary>
internal static class SystemOps
{
    public static StopReason? Step(ref Cpu c, Insn i, RunLog log) =>
        i.Op switch
        {
            Op.Pause => Pause(ref c, i, log),
            Op.Cpuid => Cpuid(ref c, i, log),
            Op.Xgetbv => Xgetbv(ref c, i, log),
            Op.Xsetbv => Xsetbv(ref c, i, log),
            Op.Rdmsr => Rdmsr(ref c, i, log),
            Op.Wrmsr => Wrmsr(ref c, i, log),
            Op.MovToCr => i.A.Register == 4 ? MovToCr4(ref c, i, log) : MovToCr0(ref c, i, log),
            Op.MovFromCr => MovFromCr(ref c, i),
            Op.Hlt => Hlt(ref c, i, log),
            Op.Out => Out(ref c, i, log),
            Op.In => In(ref c, i, log),
            Op.Rdpkru => Rdpkru(ref c, i, log),
            Op.Wrpkru => Wrpkru(ref c, i, log),
            _ => new StopReason.Unsupported(c.Level, i.Rip, i.HexBytes, i.Text, $"no semantics for {i.Op}"),
        };

    private static uint Exec(in Cpu c, uint field) => (uint)c.Vmx.Read(field);

    private static StopReason? Pause(ref Cpu c, Insn i, RunLog log)
    {
        if (c.InL2 && (Exec(c, VmcsField.CpuBasedVmExecControl) & VmxCapabilities.ProcPauseExiting) != 0)
        {
            return Nested.Exit(ref c, i, ExitReason.Pause, 0, 0, log);
        }
        c.Rip = i.NextRip;
        return null;
    }

    /// <summary>CPUID: in L2 always a VM exit (reason 10), so L0 never answers it; at L1, <c>kvm_emulate_cpuid</c> (the observation point).</summary>
    private static StopReason? Cpuid(ref Cpu c, Insn i, RunLog log)
    {
        if (c.InL2)
        {
            return Nested.Exit(ref c, i, ExitReason.Cpuid, 0, 0, log);
        }
        var leaf = (uint)c.Gprs[Registers.Rax];
        var subleaf = (uint)c.Gprs[Registers.Rcx];
        var observation = Executor.Apply(ref c, log.Events.Cpuid(leaf, subleaf), i.Rip, log, 1);
        if (observation is Observation.CpuidResult r)
        {
            c.Gprs[Registers.Rax] = r.Eax;
            c.Gprs[Registers.Rbx] = r.Ebx;
            c.Gprs[Registers.Rcx] = r.Ecx;
            c.Gprs[Registers.Rdx] = r.Edx;
            c.Rip = i.NextRip;
            return null;
        }
        return FaultFromCore(ref c, i, observation, log);
    }

    /// <summary>XGETBV (never intercepted): #UD without CR4.OSXSAVE; XCR0; XCR1 (XINUSE, modelled as XCR0) only with XGETBV1.</summary>
    private static StopReason? Xgetbv(ref Cpu c, Insn i, RunLog log)
    {
        if ((c.Cr4 & Cr4.OsXsave) == 0)
        {
            return Executor.RaiseFault(ref c, i, X86Exception.UD, log);
        }
        var index = (uint)c.Gprs[Registers.Rcx];
        if (index > 1 || (index == 1 && !GuestCpuCaps.Has(c.Kvm.Vcpu, GuestFeature.Xgetbv1)))
        {
            return Executor.RaiseFault(ref c, i, X86Exception.GP, log);
        }
        var xcr0 = c.Kvm.Vcpu.Xcr0;
        c.Gprs[Registers.Rax] = xcr0 & 0xFFFF_FFFF;
        c.Gprs[Registers.Rdx] = xcr0 >> 32;
        c.Rip = i.NextRip;
        return null;
    }

    /// <summary>XSETBV: #UD without CR4.OSXSAVE (before any exit); in L2 a VM exit (55); at L1 <c>kvm_emulate_xsetbv</c>.</summary>
    private static StopReason? Xsetbv(ref Cpu c, Insn i, RunLog log)
    {
        if (c.InL2)
        {
            return (c.Cr4 & Cr4.OsXsave) == 0
                ? Executor.RaiseFault(ref c, i, X86Exception.UD, log)
                : Nested.Exit(ref c, i, ExitReason.Xsetbv, 0, 0, log);
        }
        var value = (c.Gprs[Registers.Rdx] << 32) | (c.Gprs[Registers.Rax] & 0xFFFF_FFFF);
        var observation = Executor.Apply(ref c, log.Events.Xsetbv((uint)c.Gprs[Registers.Rcx], value), i.Rip, log, 1);
        if (observation is null)
        {
            c.Rip = i.NextRip;
            return null;
        }
        return FaultFromCore(ref c, i, observation, log);
    }

    /// <summary>RDMSR: in L2 a VM exit (31; no MSR bitmaps); at L1 the VMX capability MSRs are answered here, the rest by Core.</summary>
    private static StopReason? Rdmsr(ref Cpu c, Insn i, RunLog log)
    {
        if (c.InL2)
        {
            return Nested.Exit(ref c, i, ExitReason.Rdmsr, 0, 0, log);
        }
        var index = (uint)c.Gprs[Registers.Rcx];
        ulong value;
        if (VmxCapabilities.OwnsMsr(index))
        {
            if (VmxCapabilities.ReadMsr(index) is not { } v)
            {
                return Executor.RaiseFault(ref c, i, X86Exception.GP, log);
            }
            value = v;
        }
        else
        {
            var observation = Executor.Apply(ref c, log.Events.Rdmsr(index), i.Rip, log, 1);
            if (observation is not Observation.MsrValue read)
            {
                return FaultFromCore(ref c, i, observation, log);
            }
            value = read.Value;
        }
        c.Gprs[Registers.Rax] = value & 0xFFFF_FFFF;
        c.Gprs[Registers.Rdx] = value >> 32;
        c.Rip = i.NextRip;
        return null;
    }

    /// <summary>WRMSR: in L2 a VM exit (32); at L1 the VMX MSRs and the locked IA32_FEATURE_CONTROL are read-only (#GP), the rest go to Core.</summary>
    private static StopReason? Wrmsr(ref Cpu c, Insn i, RunLog log)
    {
        if (c.InL2)
        {
            return Nested.Exit(ref c, i, ExitReason.Wrmsr, 0, 0, log);
        }
        var index = (uint)c.Gprs[Registers.Rcx];
        if (VmxCapabilities.OwnsMsr(index))
        {
            return Executor.RaiseFault(ref c, i, X86Exception.GP, log);
        }
        var value = (c.Gprs[Registers.Rdx] << 32) | (c.Gprs[Registers.Rax] & 0xFFFF_FFFF);
        var observation = Executor.Apply(ref c, log.Events.Wrmsr(index, value), i.Rip, log, 1);
        if (observation is null)
        {
            c.Rip = i.NextRip;
            return null;
        }
        return FaultFromCore(ref c, i, observation, log);
    }

    /// <summary>CR-access exit qualification for MOV to/from CRn with a general-purpose register (SDM table 28-3).</summary>
    private static ulong CrQualification(uint cr, uint accessType, uint gpr) => cr | (accessType << 4) | (gpr << 8);

    /// <summary>
    /// MOV to CR4. In L2: a VM exit (28) if it would change a bit L1 owns (set in CR4_GUEST_HOST_MASK) from its read
    /// shadow; otherwise L0 applies it, keeping L1-owned bits. Then KVM's checks (<c>kvm_set_cr4</c>): PAE must stay
    /// set in long mode and VMXE in VMX operation (nested fixed bits), the rest is Core's <c>kvm_is_valid_cr4</c>.
    /// </summary>
    private static StopReason? MovToCr4(ref Cpu c, Insn i, RunLog log)
    {
        var value = Executor.ReadGpr(c, i.B);
        if (c.InL2)
        {
            var mask = c.Vmx.Read(VmcsField.Cr4GuestHostMask);
            var shadow = c.Vmx.Read(VmcsField.Cr4ReadShadow);
            if (((value ^ shadow) & mask) != 0)
            {
                return Nested.Exit(ref c, i, ExitReason.CrAccess, CrQualification(4, 0, i.B.Register), 0, log);
            }
            value = (value & ~mask) | (c.Cr4 & mask);
        }
        var leavesVmx = c.Vmx.On && (value & VmxCapabilities.Cr4Fixed0) != VmxCapabilities.Cr4Fixed0;
        if ((value & Cr4.Pae) == 0 || leavesVmx)
        {
            return Executor.RaiseFault(ref c, i, X86Exception.GP, log);
        }
        var observation = Executor.Apply(ref c, log.Events.MovToCr4(value), i.Rip, log, c.Level);
        if (observation is null)
        {
            c.Rip = i.NextRip;
            return null;
        }
        return FaultFromCore(ref c, i, observation, log);
    }

    /// <summary>
    /// MOV to CR0 (not an input of dynamic CPUID: kept by the interpreter). In L2: a VM exit if it changes an
    /// L1-owned bit from CR0_READ_SHADOW. #GP for bits 63:32, NW without CD, PG without PE, leaving long mode, and
    /// clearing PE, NE or PG in VMX operation.
    /// </summary>
    private static StopReason? MovToCr0(ref Cpu c, Insn i, RunLog log)
    {
        var value = Executor.ReadGpr(c, i.B);
        if (c.InL2)
        {
            var mask = c.Vmx.Read(VmcsField.Cr0GuestHostMask);
            var shadow = c.Vmx.Read(VmcsField.Cr0ReadShadow);
            if (((value ^ shadow) & mask) != 0)
            {
                return Nested.Exit(ref c, i, ExitReason.CrAccess, CrQualification(0, 0, i.B.Register), 0, log);
            }
            value = (value & ~mask) | (c.Cr0 & mask);
        }
        if (!IsValidCr0(value, c.Vmx.On))
        {
            return Executor.RaiseFault(ref c, i, X86Exception.GP, log);
        }
        c.Cr0 = value;
        c.Rip = i.NextRip;
        return null;
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

    /// <summary>MOV from CR0/CR4: in L2 the bits L1 owns read from the read shadows (no exit).</summary>
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

    /// <summary>HLT: ends the run at L1; in L2 a VM exit (12) with HLT exiting, else L2 sleeps forever (the run stops).</summary>
    private static StopReason? Hlt(ref Cpu c, Insn i, RunLog log)
    {
        if (!c.InL2)
        {
            return new StopReason.Halted(i.Rip);
        }
        return (Exec(c, VmcsField.CpuBasedVmExecControl) & VmxCapabilities.ProcHltExiting) != 0
            ? Nested.Exit(ref c, i, ExitReason.Hlt, 0, 0, log)
            : new StopReason.L2Halted(i.Rip);
    }

    private static bool L2ExitsOnIo(in Cpu c) =>
        c.InL2 && (Exec(c, VmcsField.CpuBasedVmExecControl) & VmxCapabilities.ProcUnconditionalIoExiting) != 0;

    /// <summary>I/O exit qualification (SDM table 28-5): size − 1, direction (1 = IN), immediate operand, port.</summary>
    private static ulong IoQualification(int size, bool isIn, bool immediate, ushort port) =>
        (uint)(size - 1) | (isIn ? 1u << 3 : 0u) | (immediate ? 1u << 6 : 0u) | ((uint)port << 16);

    /// <summary>OUT: reported to the host (L0's userspace); in L2 a VM exit (30) with unconditional I/O exiting.</summary>
    private static StopReason? Out(ref Cpu c, Insn i, RunLog log)
    {
        var immediate = i.A.Kind == OperandKind.Immediate;
        var port = (ushort)(immediate ? i.A.Value & 0xFF : c.Gprs[Registers.Rdx] & 0xFFFF);
        if (L2ExitsOnIo(c))
        {
            return Nested.Exit(ref c, i, ExitReason.IoInstruction, IoQualification(i.OpSize, false, immediate, port), 0, log);
        }
        log.Outputs.Add(new PortOutput(c.Level, port, (uint)Executor.ReadGpr(c, i.B), i.OpSize));
        c.Rip = i.NextRip;
        return null;
    }

    /// <summary>IN: no device answers, so all ones (a floating bus); in L2 a VM exit (30) with unconditional I/O exiting.</summary>
    private static StopReason? In(ref Cpu c, Insn i, RunLog log)
    {
        var immediate = i.B.Kind == OperandKind.Immediate;
        var port = (ushort)(immediate ? i.B.Value & 0xFF : c.Gprs[Registers.Rdx] & 0xFFFF);
        if (L2ExitsOnIo(c))
        {
            return Nested.Exit(ref c, i, ExitReason.IoInstruction, IoQualification(i.OpSize, true, immediate, port), 0, log);
        }
        return Executor.WriteAndNext(ref c, i, i.A, Alu.Mask(i.OpSize), c.Rflags);
    }

    /// <summary>RDPKRU: #UD unless CR4.PKE, #GP unless ECX = 0; EAX = PKRU, EDX = 0.</summary>
    private static StopReason? Rdpkru(ref Cpu c, Insn i, RunLog log)
    {
        if ((c.Cr4 & Cr4.Pke) == 0)
        {
            return Executor.RaiseFault(ref c, i, X86Exception.UD, log);
        }
        if ((uint)c.Gprs[Registers.Rcx] != 0)
        {
            return Executor.RaiseFault(ref c, i, X86Exception.GP, log);
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
            return Executor.RaiseFault(ref c, i, X86Exception.UD, log);
        }
        if ((uint)c.Gprs[Registers.Rcx] != 0 || (uint)c.Gprs[Registers.Rdx] != 0)
        {
            return Executor.RaiseFault(ref c, i, X86Exception.GP, log);
        }
        c.Pkru = (uint)c.Gprs[Registers.Rax];
        c.Rip = i.NextRip;
        return null;
    }

    /// <summary>A Core refusal (#GP/#UD observation, already logged) delivered to the guest.</summary>
    private static StopReason? FaultFromCore(ref Cpu c, Insn i, Observation? observation, RunLog log) =>
        observation is Observation.Fault f
            ? Executor.DeliverFault(ref c, i, f.Vector, log)
            : new StopReason.Unsupported(c.Level, i.Rip, i.HexBytes, i.Text, $"unexpected Core observation {observation}");
}
