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
    public static StopReason? Step(ref Machine m, Insn i, RunLog log) =>
        i.Op switch
        {
            Op.Pause => Pause(ref m, i, log),
            Op.Cpuid => Cpuid(ref m, i, log),
            Op.Xgetbv => Xgetbv(ref m, i, log),
            Op.Xsetbv => Xsetbv(ref m, i, log),
            Op.Rdmsr => Rdmsr(ref m, i, log),
            Op.Wrmsr => Wrmsr(ref m, i, log),
            Op.MovToCr => i.A.Register == 4 ? MovToCr4(ref m, i, log) : MovToCr0(ref m, i, log),
            Op.MovFromCr => MovFromCr(ref m, i),
            Op.Hlt => Hlt(ref m, i, log),
            Op.Out => Out(ref m, i, log),
            Op.In => In(ref m, i, log),
            Op.Rdpkru => Rdpkru(ref m, i, log),
            Op.Wrpkru => Wrpkru(ref m, i, log),
            _ => new StopReason.Unsupported(m.Level, i.Rip, i.HexBytes, i.Text, $"no semantics for {i.Op}"),
        };

    private static uint Exec(in Machine m, uint field) => (uint)m.Vmx.Read(field);

    private static StopReason? Pause(ref Machine m, Insn i, RunLog log)
    {
        if (m.InL2 && (Exec(m, VmcsField.CpuBasedVmExecControl) & VmxCapabilities.ProcPauseExiting) != 0)
        {
            return Nested.Exit(ref m, i, ExitReason.Pause, 0, 0, log);
        }
        m = m with { Regs = m.Regs.WithRip(i.NextRip) };
        return null;
    }

    /// <summary>CPUID: in L2 always a VM exit (reason 10), so L0 never answers it; at L1, <c>kvm_emulate_cpuid</c> (the observation point).</summary>
    private static StopReason? Cpuid(ref Machine m, Insn i, RunLog log)
    {
        if (m.InL2)
        {
            return Nested.Exit(ref m, i, ExitReason.Cpuid, 0, 0, log);
        }
        var leaf = (uint)m.Regs[Registers.Rax];
        var subleaf = (uint)m.Regs[Registers.Rcx];
        var observation = Executor.Apply(ref m, new VcpuEvent.Cpuid(leaf, subleaf), i.Rip, log, 1);
        if (observation is Observation.CpuidResult r)
        {
            var regs = m.Regs.With(Registers.Rax, r.Eax).With(Registers.Rbx, r.Ebx).With(Registers.Rcx, r.Ecx);
            m = m with { Regs = regs.With(Registers.Rdx, r.Edx, i.NextRip) };
            return null;
        }
        return FaultFromCore(ref m, i, observation, log);
    }

    /// <summary>XGETBV (never intercepted): #UD without CR4.OSXSAVE; XCR0; XCR1 (XINUSE, modelled as XCR0) only with XGETBV1.</summary>
    private static StopReason? Xgetbv(ref Machine m, Insn i, RunLog log)
    {
        if ((m.Cr4 & Cr4.OsXsave) == 0)
        {
            return Executor.RaiseFault(ref m, i, X86Exception.UD, log);
        }
        var index = (uint)m.Regs[Registers.Rcx];
        if (index > 1 || (index == 1 && !GuestCpuCaps.Has(m.Kvm.Vcpu, GuestFeature.Xgetbv1)))
        {
            return Executor.RaiseFault(ref m, i, X86Exception.GP, log);
        }
        var xcr0 = m.Kvm.Vcpu.Xcr0;
        var regs = m.Regs.With(Registers.Rax, xcr0 & 0xFFFF_FFFF);
        m = m with { Regs = regs.With(Registers.Rdx, xcr0 >> 32, i.NextRip) };
        return null;
    }

    /// <summary>XSETBV: #UD without CR4.OSXSAVE (before any exit); in L2 a VM exit (55); at L1 <c>kvm_emulate_xsetbv</c>.</summary>
    private static StopReason? Xsetbv(ref Machine m, Insn i, RunLog log)
    {
        if (m.InL2)
        {
            return (m.Cr4 & Cr4.OsXsave) == 0
                ? Executor.RaiseFault(ref m, i, X86Exception.UD, log)
                : Nested.Exit(ref m, i, ExitReason.Xsetbv, 0, 0, log);
        }
        var value = (m.Regs[Registers.Rdx] << 32) | (m.Regs[Registers.Rax] & 0xFFFF_FFFF);
        var observation = Executor.Apply(ref m, new VcpuEvent.Xsetbv((uint)m.Regs[Registers.Rcx], value), i.Rip, log, 1);
        if (observation is null)
        {
            m = m with { Regs = m.Regs.WithRip(i.NextRip) };
            return null;
        }
        return FaultFromCore(ref m, i, observation, log);
    }

    /// <summary>RDMSR: in L2 a VM exit (31; no MSR bitmaps); at L1 the VMX capability MSRs are answered here, the rest by Core.</summary>
    private static StopReason? Rdmsr(ref Machine m, Insn i, RunLog log)
    {
        if (m.InL2)
        {
            return Nested.Exit(ref m, i, ExitReason.Rdmsr, 0, 0, log);
        }
        var index = (uint)m.Regs[Registers.Rcx];
        ulong value;
        if (VmxCapabilities.OwnsMsr(index))
        {
            if (VmxCapabilities.ReadMsr(index) is not { } v)
            {
                return Executor.RaiseFault(ref m, i, X86Exception.GP, log);
            }
            value = v;
        }
        else
        {
            var observation = Executor.Apply(ref m, new VcpuEvent.Rdmsr(index), i.Rip, log, 1);
            if (observation is not Observation.MsrValue read)
            {
                return FaultFromCore(ref m, i, observation, log);
            }
            value = read.Value;
        }
        var regs = m.Regs.With(Registers.Rax, value & 0xFFFF_FFFF);
        m = m with { Regs = regs.With(Registers.Rdx, value >> 32, i.NextRip) };
        return null;
    }

    /// <summary>WRMSR: in L2 a VM exit (32); at L1 the VMX MSRs and the locked IA32_FEATURE_CONTROL are read-only (#GP), the rest go to Core.</summary>
    private static StopReason? Wrmsr(ref Machine m, Insn i, RunLog log)
    {
        if (m.InL2)
        {
            return Nested.Exit(ref m, i, ExitReason.Wrmsr, 0, 0, log);
        }
        var index = (uint)m.Regs[Registers.Rcx];
        if (VmxCapabilities.OwnsMsr(index))
        {
            return Executor.RaiseFault(ref m, i, X86Exception.GP, log);
        }
        var value = (m.Regs[Registers.Rdx] << 32) | (m.Regs[Registers.Rax] & 0xFFFF_FFFF);
        var observation = Executor.Apply(ref m, new VcpuEvent.Wrmsr(index, value), i.Rip, log, 1);
        if (observation is null)
        {
            m = m with { Regs = m.Regs.WithRip(i.NextRip) };
            return null;
        }
        return FaultFromCore(ref m, i, observation, log);
    }

    /// <summary>CR-access exit qualification for MOV to/from CRn with a general-purpose register (SDM table 28-3).</summary>
    private static ulong CrQualification(uint cr, uint accessType, uint gpr) => cr | (accessType << 4) | (gpr << 8);

    /// <summary>
    /// MOV to CR4. In L2: a VM exit (28) if it would change a bit L1 owns (set in CR4_GUEST_HOST_MASK) from its read
    /// shadow; otherwise L0 applies it, keeping L1-owned bits. Then KVM's checks (<c>kvm_set_cr4</c>): PAE must stay
    /// set in long mode and VMXE in VMX operation (nested fixed bits), the rest is Core's <c>kvm_is_valid_cr4</c>.
    /// </summary>
    private static StopReason? MovToCr4(ref Machine m, Insn i, RunLog log)
    {
        var value = Executor.ReadGpr(m.Regs, i.B);
        if (m.InL2)
        {
            var mask = m.Vmx.Read(VmcsField.Cr4GuestHostMask);
            var shadow = m.Vmx.Read(VmcsField.Cr4ReadShadow);
            if (((value ^ shadow) & mask) != 0)
            {
                return Nested.Exit(ref m, i, ExitReason.CrAccess, CrQualification(4, 0, i.B.Register), 0, log);
            }
            value = (value & ~mask) | (m.Cr4 & mask);
        }
        var leavesVmx = m.Vmx.On && (value & VmxCapabilities.Cr4Fixed0) != VmxCapabilities.Cr4Fixed0;
        if ((value & Cr4.Pae) == 0 || leavesVmx)
        {
            return Executor.RaiseFault(ref m, i, X86Exception.GP, log);
        }
        var observation = Executor.Apply(ref m, new VcpuEvent.MovToCr4(value), i.Rip, log, m.Level);
        if (observation is null)
        {
            m = m with { Regs = m.Regs.WithRip(i.NextRip) };
            return null;
        }
        return FaultFromCore(ref m, i, observation, log);
    }

    /// <summary>
    /// MOV to CR0 (not an input of dynamic CPUID: kept by the interpreter). In L2: a VM exit if it changes an
    /// L1-owned bit from CR0_READ_SHADOW. #GP for bits 63:32, NW without CD, PG without PE, leaving long mode, and
    /// clearing PE, NE or PG in VMX operation.
    /// </summary>
    private static StopReason? MovToCr0(ref Machine m, Insn i, RunLog log)
    {
        var value = Executor.ReadGpr(m.Regs, i.B);
        if (m.InL2)
        {
            var mask = m.Vmx.Read(VmcsField.Cr0GuestHostMask);
            var shadow = m.Vmx.Read(VmcsField.Cr0ReadShadow);
            if (((value ^ shadow) & mask) != 0)
            {
                return Nested.Exit(ref m, i, ExitReason.CrAccess, CrQualification(0, 0, i.B.Register), 0, log);
            }
            value = (value & ~mask) | (m.Cr0 & mask);
        }
        if (!IsValidCr0(value, m.Vmx.On))
        {
            return Executor.RaiseFault(ref m, i, X86Exception.GP, log);
        }
        m = m with { Cr0 = value, Regs = m.Regs.WithRip(i.NextRip) };
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
    private static StopReason? MovFromCr(ref Machine m, Insn i)
    {
        var cr4 = i.B.Register == 4;
        var value = cr4 ? m.Cr4 : m.Cr0;
        if (m.InL2)
        {
            var mask = m.Vmx.Read(cr4 ? VmcsField.Cr4GuestHostMask : VmcsField.Cr0GuestHostMask);
            var shadow = m.Vmx.Read(cr4 ? VmcsField.Cr4ReadShadow : VmcsField.Cr0ReadShadow);
            value = (value & ~mask) | (shadow & mask);
        }
        m = m with { Regs = m.Regs.With(i.A.Register, value, i.NextRip) };
        return null;
    }

    /// <summary>HLT: ends the run at L1; in L2 a VM exit (12) with HLT exiting, else L2 sleeps forever (the run stops).</summary>
    private static StopReason? Hlt(ref Machine m, Insn i, RunLog log)
    {
        if (!m.InL2)
        {
            return new StopReason.Halted(i.Rip);
        }
        return (Exec(m, VmcsField.CpuBasedVmExecControl) & VmxCapabilities.ProcHltExiting) != 0
            ? Nested.Exit(ref m, i, ExitReason.Hlt, 0, 0, log)
            : new StopReason.L2Halted(i.Rip);
    }

    private static bool L2ExitsOnIo(in Machine m) =>
        m.InL2 && (Exec(m, VmcsField.CpuBasedVmExecControl) & VmxCapabilities.ProcUnconditionalIoExiting) != 0;

    /// <summary>I/O exit qualification (SDM table 28-5): size − 1, direction (1 = IN), immediate operand, port.</summary>
    private static ulong IoQualification(int size, bool isIn, bool immediate, ushort port) =>
        (uint)(size - 1) | (isIn ? 1u << 3 : 0u) | (immediate ? 1u << 6 : 0u) | ((uint)port << 16);

    /// <summary>OUT: reported to the host (L0's userspace); in L2 a VM exit (30) with unconditional I/O exiting.</summary>
    private static StopReason? Out(ref Machine m, Insn i, RunLog log)
    {
        var immediate = i.A.Kind == OperandKind.Immediate;
        var port = (ushort)(immediate ? i.A.Value & 0xFF : m.Regs[Registers.Rdx] & 0xFFFF);
        if (L2ExitsOnIo(m))
        {
            return Nested.Exit(ref m, i, ExitReason.IoInstruction, IoQualification(i.OpSize, false, immediate, port), 0, log);
        }
        log.Outputs.Add(new PortOutput(m.Level, port, (uint)Executor.ReadGpr(m.Regs, i.B), i.OpSize));
        m = m with { Regs = m.Regs.WithRip(i.NextRip) };
        return null;
    }

    /// <summary>IN: no device answers, so all ones (a floating bus); in L2 a VM exit (30) with unconditional I/O exiting.</summary>
    private static StopReason? In(ref Machine m, Insn i, RunLog log)
    {
        var immediate = i.B.Kind == OperandKind.Immediate;
        var port = (ushort)(immediate ? i.B.Value & 0xFF : m.Regs[Registers.Rdx] & 0xFFFF);
        if (L2ExitsOnIo(m))
        {
            return Nested.Exit(ref m, i, ExitReason.IoInstruction, IoQualification(i.OpSize, true, immediate, port), 0, log);
        }
        return Executor.WriteAndNext(ref m, i, i.A, Alu.Mask(i.OpSize), m.Regs.Rflags);
    }

    /// <summary>RDPKRU: #UD unless CR4.PKE, #GP unless ECX = 0; EAX = PKRU, EDX = 0.</summary>
    private static StopReason? Rdpkru(ref Machine m, Insn i, RunLog log)
    {
        if ((m.Cr4 & Cr4.Pke) == 0)
        {
            return Executor.RaiseFault(ref m, i, X86Exception.UD, log);
        }
        if ((uint)m.Regs[Registers.Rcx] != 0)
        {
            return Executor.RaiseFault(ref m, i, X86Exception.GP, log);
        }
        m = m with { Regs = m.Regs.With(Registers.Rax, m.Pkru).With(Registers.Rdx, 0, i.NextRip) };
        return null;
    }

    /// <summary>WRPKRU: #UD unless CR4.PKE, #GP unless ECX = EDX = 0; PKRU = EAX.</summary>
    private static StopReason? Wrpkru(ref Machine m, Insn i, RunLog log)
    {
        if ((m.Cr4 & Cr4.Pke) == 0)
        {
            return Executor.RaiseFault(ref m, i, X86Exception.UD, log);
        }
        if ((uint)m.Regs[Registers.Rcx] != 0 || (uint)m.Regs[Registers.Rdx] != 0)
        {
            return Executor.RaiseFault(ref m, i, X86Exception.GP, log);
        }
        m = m with { Pkru = (uint)m.Regs[Registers.Rax], Regs = m.Regs.WithRip(i.NextRip) };
        return null;
    }

    /// <summary>A Core refusal (#GP/#UD observation, already logged) delivered to the guest.</summary>
    private static StopReason? FaultFromCore(ref Machine m, Insn i, Observation? observation, RunLog log) =>
        observation is Observation.Fault f
            ? Executor.DeliverFault(ref m, i, f.Vector, log)
            : new StopReason.Unsupported(m.Level, i.Rip, i.HexBytes, i.Text, $"unexpected Core observation {observation}");
}
