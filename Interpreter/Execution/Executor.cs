using CpuidFunctional.Core.Model;
using CpuidFunctional.Core.State;

namespace CpuidFunctional.Interpreter;

/// <summary>
/// One instruction: <c>(machine, instruction) → machine'</c> plus what the run log records. The machine is passed by
/// reference only so the run loop's one variable is reassigned without copying; every snapshot stays immutable.
/// Returns a stop reason, or null to continue. Data and control-flow instructions live here; system, VMX and nested
/// transitions in <see cref="SystemOps"/>, <see cref="VmxOps"/> and <see cref="Nested"/>.
/// </summary>
internal static class Executor
{
    public static StopReason? Step(ref Machine m, Insn i, RunLog log)
    {
        if (!OperandsInMemory(m, i, out var bad))
        {
            return new StopReason.OutsideMemory(m.Level, i.Rip, bad);
        }
        switch (i.Op)
        {
            case Op.Nop:
                m = m with { Regs = m.Regs.WithRip(i.NextRip) };
                return null;
            case Op.Mov:
                return WriteAndNext(ref m, i, i.A, Read(m, i.B) & Alu.Mask(i.A.Size), m.Regs.Rflags);
            case Op.Movzx:
                return WriteAndNext(ref m, i, i.A, Read(m, i.B), m.Regs.Rflags);
            case Op.Movsx:
                return WriteAndNext(ref m, i, i.A, Alu.SignExtend(Read(m, i.B), i.B.Size) & Alu.Mask(i.A.Size), m.Regs.Rflags);
            case Op.Lea:
                return WriteAndNext(ref m, i, i.A, Address(m.Regs, i.B) & Alu.Mask(i.A.Size), m.Regs.Rflags);
            case Op.Add:
            case Op.Sub:
            case Op.Cmp:
                return Arithmetic(ref m, i);
            case Op.And:
            case Op.Or:
            case Op.Xor:
            case Op.Test:
                return Logical(ref m, i);
            case Op.Inc:
            case Op.Dec:
                return IncDec(ref m, i);
            case Op.Not:
                return WriteAndNext(ref m, i, i.A, ~Read(m, i.A) & Alu.Mask(i.A.Size), m.Regs.Rflags);
            case Op.Neg:
                {
                    var (r, f) = Alu.Sub(0, Read(m, i.A), i.A.Size);
                    return WriteAndNext(ref m, i, i.A, r, Alu.Merge(m.Regs.Rflags, f, Rflags.Arithmetic));
                }
            case Op.Shl:
            case Op.Shr:
            case Op.Sar:
                {
                    var count = (int)((i.B.Kind == OperandKind.None ? 1 : Read(m, i.B)) & (i.A.Size == 8 ? 63ul : 31ul));
                    var (r, f) = Alu.Shift(i.Op, Read(m, i.A), count, i.A.Size, m.Regs.Rflags);
                    return WriteAndNext(ref m, i, i.A, r, f);
                }
            case Op.Bt:
            case Op.Bts:
            case Op.Btr:
                return BitTest(ref m, i);
            case Op.Jcc:
                m = m with { Regs = m.Regs.WithRip(Alu.Holds(i.Condition, m.Regs.Rflags) ? i.Target : i.NextRip) };
                return null;
            case Op.Jmp:
                m = m with { Regs = m.Regs.WithRip(i.A.Kind == OperandKind.None ? i.Target : Read(m, i.A)) };
                return null;
            case Op.Loop:
                {
                    var rcx = m.Regs[Registers.Rcx] - 1;
                    m = m with { Regs = m.Regs.With(Registers.Rcx, rcx, rcx != 0 ? i.Target : i.NextRip) };
                    return null;
                }
            case Op.Call:
                return Call(ref m, i);
            case Op.Ret:
                return Ret(ref m, i);
            case Op.Push:
                return Push(ref m, i);
            case Op.Pop:
                return Pop(ref m, i);
            case Op.Pushf:
                return Push(ref m, i, m.Regs.Rflags);
            case Op.Invalid:
                return RaiseFault(ref m, i, X86Exception.UD, log);
            case Op.Unsupported:
                return new StopReason.Unsupported(m.Level, i.Rip, i.HexBytes, i.Text, i.Why ?? "unsupported");
            case Op.Pause:
            case Op.Cpuid:
            case Op.Xgetbv:
            case Op.Xsetbv:
            case Op.Rdmsr:
            case Op.Wrmsr:
            case Op.MovToCr:
            case Op.MovFromCr:
            case Op.Hlt:
            case Op.Out:
            case Op.In:
            case Op.Rdpkru:
            case Op.Wrpkru:
                return SystemOps.Step(ref m, i, log);
            case Op.Vmxon:
            case Op.Vmxoff:
            case Op.Vmclear:
            case Op.Vmptrld:
            case Op.Vmptrst:
            case Op.Vmread:
            case Op.Vmwrite:
            case Op.Vmlaunch:
            case Op.Vmresume:
            case Op.Vmcall:
                return VmxOps.Step(ref m, i, log);
            default:
                return new StopReason.Unsupported(m.Level, i.Rip, i.HexBytes, i.Text, $"no semantics for {i.Op}");
        }
    }

    // ---- operands ----

    /// <summary>Effective address of a memory operand (identity-mapped: linear = physical).</summary>
    public static ulong Address(in Registers r, in Operand o)
    {
        var address = o.Value;
        if (o.Base != Operand.NoRegister)
        {
            address += r[o.Base];
        }
        if (o.Index != Operand.NoRegister)
        {
            address += r[o.Index] * o.Scale;
        }
        return o.Address32 ? address & 0xFFFF_FFFF : address;
    }

    public static ulong ReadGpr(in Registers r, in Operand o) =>
        o.HighByte ? (r[o.Register] >> 8) & 0xFF : r[o.Register] & Alu.Mask(o.Size);

    public static ulong MergeGpr(ulong old, ulong value, int size, bool high) =>
        size switch
        {
            1 when high => (old & ~0xFF00ul) | ((value & 0xFF) << 8),
            1 => (old & ~0xFFul) | (value & 0xFF),
            2 => (old & ~0xFFFFul) | (value & 0xFFFF),
            4 => value & 0xFFFF_FFFF,
            _ => value,
        };

    public static ulong Read(in Machine m, in Operand o) =>
        o.Kind switch
        {
            OperandKind.Register => ReadGpr(m.Regs, o),
            OperandKind.Immediate => o.Value,
            OperandKind.Memory => m.Memory.Read(Address(m.Regs, o), o.Size),
            _ => 0,
        };

    /// <summary>Writes a register or memory operand, sets RFLAGS and moves to the next instruction.</summary>
    public static StopReason? WriteAndNext(ref Machine m, Insn i, in Operand o, ulong value, ulong rflags)
    {
        var regs = m.Regs;
        if (o.Kind == OperandKind.Register)
        {
            regs = regs.With(o.Register, MergeGpr(regs[o.Register], value, o.Size, o.HighByte), i.NextRip);
            m = m with { Regs = rflags == regs.Rflags ? regs : regs.WithRflags(rflags) };
            return null;
        }
        var memory = m.Memory.Write(Address(regs, o), o.Size, value);
        m = m with { Memory = memory, Regs = regs.WithRip(i.NextRip).WithRflags(rflags) };
        return null;
    }

    /// <summary>Writes a 64-bit general-purpose register (a 32-bit write zero-extends, so callers pass the final value).</summary>
    public static Registers SetGpr(in Registers r, int number, ulong value) => r.With(number, value);

    public static Registers Next(in Registers r, Insn i) => r.WithRip(i.NextRip);

    private static bool OperandsInMemory(in Machine m, Insn i, out ulong bad)
    {
        bad = 0;
        if (i.Op is Op.Lea or Op.Nop)
        {
            return true;
        }
        if (i.A.Kind == OperandKind.Memory && !m.Memory.Contains(bad = Address(m.Regs, i.A), Math.Max((int)i.A.Size, 1)))
        {
            return false;
        }
        if (i.B.Kind == OperandKind.Memory && !m.Memory.Contains(bad = Address(m.Regs, i.B), Math.Max((int)i.B.Size, 1)))
        {
            return false;
        }
        return true;
    }

    // ---- data instructions ----

    private static StopReason? Arithmetic(ref Machine m, Insn i)
    {
        var size = i.A.Size;
        var a = Read(m, i.A);
        var b = Read(m, i.B);
        var (r, f) = i.Op == Op.Add ? Alu.Add(a, b, size) : Alu.Sub(a, b, size);
        var rflags = Alu.Merge(m.Regs.Rflags, f, Rflags.Arithmetic);
        if (i.Op == Op.Cmp)
        {
            m = m with { Regs = m.Regs.WithRip(i.NextRip).WithRflags(rflags) };
            return null;
        }
        return WriteAndNext(ref m, i, i.A, r, rflags);
    }

    private static StopReason? Logical(ref Machine m, Insn i)
    {
        var size = i.A.Size;
        var a = Read(m, i.A);
        var b = Read(m, i.B) & Alu.Mask(size);
        var r = i.Op switch
        {
            Op.And or Op.Test => a & b,
            Op.Or => a | b,
            _ => a ^ b,
        };
        var rflags = Alu.Merge(m.Regs.Rflags, Alu.Logic(r, size), Rflags.Arithmetic);
        if (i.Op == Op.Test)
        {
            m = m with { Regs = m.Regs.WithRip(i.NextRip).WithRflags(rflags) };
            return null;
        }
        return WriteAndNext(ref m, i, i.A, r, rflags);
    }

    private static StopReason? IncDec(ref Machine m, Insn i)
    {
        var (r, f) = i.Op == Op.Inc ? Alu.Add(Read(m, i.A), 1, i.A.Size) : Alu.Sub(Read(m, i.A), 1, i.A.Size);
        // INC and DEC leave CF alone.
        var rflags = Alu.Merge(m.Regs.Rflags, f, Rflags.Arithmetic & ~Rflags.CF);
        return WriteAndNext(ref m, i, i.A, r, rflags);
    }

    private static StopReason? BitTest(ref Machine m, Insn i)
    {
        var bits = i.A.Size * 8;
        var offset = Read(m, i.B);
        var target = i.A;
        if (i.A.Kind == OperandKind.Memory && i.B.Kind == OperandKind.Register)
        {
            // A register bit offset addresses a bit string: signed offset / operand bits selects the operand.
            var signed = (long)Alu.SignExtend(offset, i.B.Size);
            var displacement = (signed >> (int)Math.Log2(bits)) * i.A.Size;
            target = target with { Value = target.Value + (ulong)displacement };
            if (!m.Memory.Contains(Address(m.Regs, target), target.Size))
            {
                return new StopReason.OutsideMemory(m.Level, i.Rip, Address(m.Regs, target));
            }
        }
        var bit = (int)(offset & (ulong)(bits - 1));
        var value = Read(m, target);
        var set = ((value >> bit) & 1) != 0;
        var rflags = set ? m.Regs.Rflags | Rflags.CF : m.Regs.Rflags & ~Rflags.CF;
        if (i.Op == Op.Bt)
        {
            m = m with { Regs = m.Regs.WithRip(i.NextRip).WithRflags(rflags) };
            return null;
        }
        var updated = i.Op == Op.Bts ? value | (1ul << bit) : value & ~(1ul << bit);
        return WriteAndNext(ref m, i, target, updated, rflags);
    }

    private static StopReason? Call(ref Machine m, Insn i)
    {
        var target = i.A.Kind == OperandKind.None ? i.Target : Read(m, i.A);
        var rsp = m.Regs[Registers.Rsp] - 8;
        if (!m.Memory.Contains(rsp, 8))
        {
            return new StopReason.OutsideMemory(m.Level, i.Rip, rsp);
        }
        m = m with { Memory = m.Memory.Write(rsp, 8, i.NextRip), Regs = m.Regs.With(Registers.Rsp, rsp, target) };
        return null;
    }

    private static StopReason? Ret(ref Machine m, Insn i)
    {
        var rsp = m.Regs[Registers.Rsp];
        if (!m.Memory.Contains(rsp, 8))
        {
            return new StopReason.OutsideMemory(m.Level, i.Rip, rsp);
        }
        var target = m.Memory.Read(rsp, 8);
        var release = i.A.Kind == OperandKind.Immediate ? i.A.Value & 0xFFFF : 0;
        m = m with { Regs = m.Regs.With(Registers.Rsp, rsp + 8 + release, target) };
        return null;
    }

    private static StopReason? Push(ref Machine m, Insn i) => Push(ref m, i, Read(m, i.A));

    private static StopReason? Push(ref Machine m, Insn i, ulong pushed)
    {
        var size = i.OpSize;
        var value = pushed & Alu.Mask(size);
        var rsp = m.Regs[Registers.Rsp] - size;
        if (!m.Memory.Contains(rsp, size))
        {
            return new StopReason.OutsideMemory(m.Level, i.Rip, rsp);
        }
        m = m with { Memory = m.Memory.Write(rsp, size, value), Regs = m.Regs.With(Registers.Rsp, rsp, i.NextRip) };
        return null;
    }

    private static StopReason? Pop(ref Machine m, Insn i)
    {
        var size = i.OpSize;
        var rsp = m.Regs[Registers.Rsp];
        if (!m.Memory.Contains(rsp, size))
        {
            return new StopReason.OutsideMemory(m.Level, i.Rip, rsp);
        }
        var value = m.Memory.Read(rsp, size);
        m = m with { Regs = m.Regs.With(Registers.Rsp, rsp + size) };
        if (i.A.Kind == OperandKind.Memory && !m.Memory.Contains(Address(m.Regs, i.A), size))
        {
            return new StopReason.OutsideMemory(m.Level, i.Rip, Address(m.Regs, i.A));
        }
        return WriteAndNext(ref m, i, i.A, value, m.Regs.Rflags);
    }

    // ---- Core events and faults ----

    /// <summary>Applies a Core event with the run's policy, logs it and any observation, and returns the observation.</summary>
    public static Observation? Apply(ref Machine m, VcpuEvent e, ulong rip, RunLog log, int level)
    {
        var t = Kvm.Step(log.Policy, m.Kvm, e);
        log.Trace.Add(e);
        log.Effort += t.Effort;
        m = m with { Kvm = t.State };
        if (t.Observation is { } o)
        {
            log.Observations.Add(new RunObservation.Kvm(level, rip, o));
        }
        return t.Observation;
    }

    /// <summary>A fault the interpreter itself raises: logged, then delivered.</summary>
    public static StopReason? RaiseFault(ref Machine m, Insn i, X86Exception vector, RunLog log)
    {
        log.Observations.Add(new RunObservation.Fault(m.Level, i.Rip, vector));
        return DeliverFault(ref m, i, vector, log);
    }

    /// <summary>
    /// Delivers a fault: in L2 a set bit in vmcs12's exception bitmap makes it a VM exit (reason 0) to L1; otherwise
    /// there is no IDT to deliver through and the run stops.
    /// </summary>
    public static StopReason? DeliverFault(ref Machine m, Insn i, X86Exception vector, RunLog log)
    {
        var v = (int)vector;
        if (m.InL2 && ((m.Vmx.Read(VmcsField.ExceptionBitmap) >> v) & 1) != 0)
        {
            // Interruption information: vector, type 3 (hardware exception), error code valid for #GP, valid.
            var info = (uint)v | (3u << 8) | (vector == X86Exception.GP ? 1u << 11 : 0) | (1u << 31);
            return Nested.Exit(ref m, i, ExitReason.ExceptionOrNmi, 0, info, log);
        }
        return new StopReason.UnhandledFault(m.Level, i.Rip, vector);
    }
}
