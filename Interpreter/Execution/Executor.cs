using CpuidFunctional.Core.Model;
using CpuidFunctional.Core.State;

namespace CpuidFunctional.Interpreter;

/// <summary>
/// One instruction: <c>(machine, instruction) → machine'</c> plus what the run log records. The machine is the run
/// loop's working copy (<see cref="Cpu"/>), updated in place; the objects it points to stay immutable.
/// Returns a stop reason, or null to continue. Data and control-flow instructions live here; system, VMX and nested
/// transitions in <see cref="SystemOps"/>, <see cref="VmxOps"/> and <see cref="Nested"/>.
/// </summary>
internal static class Executor
{
    public static StopReason? Step(ref Cpu c, Insn i, RunLog log)
    {
        if (!OperandsInMemory(c, i, out var bad))
        {
            return new StopReason.OutsideMemory(c.Level, i.Rip, bad);
        }
        switch (i.Op)
        {
            case Op.Nop:
                c.Rip = i.NextRip;
                return null;
            case Op.Mov:
                return WriteAndNext(ref c, i, i.A, Read(c, i.B) & Alu.Mask(i.A.Size), c.Rflags);
            case Op.Movzx:
                return WriteAndNext(ref c, i, i.A, Read(c, i.B), c.Rflags);
            case Op.Movsx:
                return WriteAndNext(ref c, i, i.A, Alu.SignExtend(Read(c, i.B), i.B.Size) & Alu.Mask(i.A.Size), c.Rflags);
            case Op.Lea:
                return WriteAndNext(ref c, i, i.A, Address(c, i.B) & Alu.Mask(i.A.Size), c.Rflags);
            case Op.Add:
            case Op.Sub:
            case Op.Cmp:
                return Arithmetic(ref c, i);
            case Op.And:
            case Op.Or:
            case Op.Xor:
            case Op.Test:
                return Logical(ref c, i);
            case Op.Inc:
            case Op.Dec:
                return IncDec(ref c, i);
            case Op.Not:
                return WriteAndNext(ref c, i, i.A, ~Read(c, i.A) & Alu.Mask(i.A.Size), c.Rflags);
            case Op.Neg:
                {
                    var (r, f) = Alu.Sub(0, Read(c, i.A), i.A.Size);
                    return WriteAndNext(ref c, i, i.A, r, Alu.Merge(c.Rflags, f, Rflags.Arithmetic));
                }
            case Op.Shl:
            case Op.Shr:
            case Op.Sar:
                {
                    var count = (int)((i.B.Kind == OperandKind.None ? 1 : Read(c, i.B)) & (i.A.Size == 8 ? 63ul : 31ul));
                    var (r, f) = Alu.Shift(i.Op, Read(c, i.A), count, i.A.Size, c.Rflags);
                    return WriteAndNext(ref c, i, i.A, r, f);
                }
            case Op.Bt:
            case Op.Bts:
            case Op.Btr:
                return BitTest(ref c, i);
            case Op.Jcc:
                c.Rip = Alu.Holds(i.Condition, c.Rflags) ? i.Target : i.NextRip;
                return null;
            case Op.Jmp:
                c.Rip = i.A.Kind == OperandKind.None ? i.Target : Read(c, i.A);
                return null;
            case Op.Loop:
                {
                    var rcx = c.Gprs[Registers.Rcx] - 1;
                    c.Gprs[Registers.Rcx] = rcx;
                    c.Rip = rcx != 0 ? i.Target : i.NextRip;
                    return null;
                }
            case Op.Call:
                return Call(ref c, i);
            case Op.Ret:
                return Ret(ref c, i);
            case Op.Push:
                return Push(ref c, i);
            case Op.Pop:
                return Pop(ref c, i);
            case Op.Pushf:
                return Push(ref c, i, c.Rflags);
            case Op.Invalid:
                return RaiseFault(ref c, i, X86Exception.UD, log);
            case Op.Unsupported:
                return new StopReason.Unsupported(c.Level, i.Rip, i.HexBytes, i.Text, i.Why ?? "unsupported");
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
                return SystemOps.Step(ref c, i, log);
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
                return VmxOps.Step(ref c, i, log);
            default:
                return new StopReason.Unsupported(c.Level, i.Rip, i.HexBytes, i.Text, $"no semantics for {i.Op}");
        }
    }

    // ---- operands ----

    /// <summary>Effective address of a memory operand (identity-mapped: linear = physical).</summary>
    public static ulong Address(in Cpu c, in Operand o)
    {
        var address = o.Value;
        if (o.Base != Operand.NoRegister)
        {
            address += c.Gprs[o.Base];
        }
        if (o.Index != Operand.NoRegister)
        {
            address += c.Gprs[o.Index] * o.Scale;
        }
        return o.Address32 ? address & 0xFFFF_FFFF : address;
    }

    public static ulong ReadGpr(in Cpu c, in Operand o) =>
        o.HighByte ? (c.Gprs[o.Register] >> 8) & 0xFF : c.Gprs[o.Register] & Alu.Mask(o.Size);

    public static ulong MergeGpr(ulong old, ulong value, int size, bool high) =>
        size switch
        {
            1 when high => (old & ~0xFF00ul) | ((value & 0xFF) << 8),
            1 => (old & ~0xFFul) | (value & 0xFF),
            2 => (old & ~0xFFFFul) | (value & 0xFFFF),
            4 => value & 0xFFFF_FFFF,
            _ => value,
        };

    public static ulong Read(in Cpu c, in Operand o) =>
        o.Kind switch
        {
            OperandKind.Register => ReadGpr(c, o),
            OperandKind.Immediate => o.Value,
            OperandKind.Memory => c.Memory.Read(Address(c, o), o.Size),
            _ => 0,
        };

    /// <summary>Writes a register or memory operand, sets RFLAGS and moves to the next instruction.</summary>
    public static StopReason? WriteAndNext(ref Cpu c, Insn i, in Operand o, ulong value, ulong rflags)
    {
        if (o.Kind == OperandKind.Register)
        {
            c.Gprs[o.Register] = MergeGpr(c.Gprs[o.Register], value, o.Size, o.HighByte);
        }
        else
        {
            c.Memory = c.Memory.Write(Address(c, o), o.Size, value);
        }
        c.Rip = i.NextRip;
        c.Rflags = rflags;
        return null;
    }

    private static bool OperandsInMemory(in Cpu c, Insn i, out ulong bad)
    {
        bad = 0;
        if (i.Op is Op.Lea or Op.Nop)
        {
            return true;
        }
        if (i.A.Kind == OperandKind.Memory && !c.Memory.Contains(bad = Address(c, i.A), Math.Max((int)i.A.Size, 1)))
        {
            return false;
        }
        if (i.B.Kind == OperandKind.Memory && !c.Memory.Contains(bad = Address(c, i.B), Math.Max((int)i.B.Size, 1)))
        {
            return false;
        }
        return true;
    }

    // ---- data instructions ----

    private static StopReason? Arithmetic(ref Cpu c, Insn i)
    {
        var size = i.A.Size;
        var a = Read(c, i.A);
        var b = Read(c, i.B);
        var (r, f) = i.Op == Op.Add ? Alu.Add(a, b, size) : Alu.Sub(a, b, size);
        var rflags = Alu.Merge(c.Rflags, f, Rflags.Arithmetic);
        if (i.Op == Op.Cmp)
        {
            c.Rip = i.NextRip;
            c.Rflags = rflags;
            return null;
        }
        return WriteAndNext(ref c, i, i.A, r, rflags);
    }

    private static StopReason? Logical(ref Cpu c, Insn i)
    {
        var size = i.A.Size;
        var a = Read(c, i.A);
        var b = Read(c, i.B) & Alu.Mask(size);
        var r = i.Op switch
        {
            Op.And or Op.Test => a & b,
            Op.Or => a | b,
            _ => a ^ b,
        };
        var rflags = Alu.Merge(c.Rflags, Alu.Logic(r, size), Rflags.Arithmetic);
        if (i.Op == Op.Test)
        {
            c.Rip = i.NextRip;
            c.Rflags = rflags;
            return null;
        }
        return WriteAndNext(ref c, i, i.A, r, rflags);
    }

    private static StopReason? IncDec(ref Cpu c, Insn i)
    {
        var (r, f) = i.Op == Op.Inc ? Alu.Add(Read(c, i.A), 1, i.A.Size) : Alu.Sub(Read(c, i.A), 1, i.A.Size);
        // INC and DEC leave CF alone.
        var rflags = Alu.Merge(c.Rflags, f, Rflags.Arithmetic & ~Rflags.CF);
        return WriteAndNext(ref c, i, i.A, r, rflags);
    }

    private static StopReason? BitTest(ref Cpu c, Insn i)
    {
        var bits = i.A.Size * 8;
        var offset = Read(c, i.B);
        var target = i.A;
        if (i.A.Kind == OperandKind.Memory && i.B.Kind == OperandKind.Register)
        {
            // A register bit offset addresses a bit string: signed offset / operand bits selects the operand.
            var signed = (long)Alu.SignExtend(offset, i.B.Size);
            var displacement = (signed >> (int)Math.Log2(bits)) * i.A.Size;
            target = target with { Value = target.Value + (ulong)displacement };
            if (!c.Memory.Contains(Address(c, target), target.Size))
            {
                return new StopReason.OutsideMemory(c.Level, i.Rip, Address(c, target));
            }
        }
        var bit = (int)(offset & (ulong)(bits - 1));
        var value = Read(c, target);
        var set = ((value >> bit) & 1) != 0;
        var rflags = set ? c.Rflags | Rflags.CF : c.Rflags & ~Rflags.CF;
        if (i.Op == Op.Bt)
        {
            c.Rip = i.NextRip;
            c.Rflags = rflags;
            return null;
        }
        var updated = i.Op == Op.Bts ? value | (1ul << bit) : value & ~(1ul << bit);
        return WriteAndNext(ref c, i, target, updated, rflags);
    }

    private static StopReason? Call(ref Cpu c, Insn i)
    {
        var target = i.A.Kind == OperandKind.None ? i.Target : Read(c, i.A);
        var rsp = c.Gprs[Registers.Rsp] - 8;
        if (!c.Memory.Contains(rsp, 8))
        {
            return new StopReason.OutsideMemory(c.Level, i.Rip, rsp);
        }
        c.Memory = c.Memory.Write(rsp, 8, i.NextRip);
        c.Gprs[Registers.Rsp] = rsp;
        c.Rip = target;
        return null;
    }

    private static StopReason? Ret(ref Cpu c, Insn i)
    {
        var rsp = c.Gprs[Registers.Rsp];
        if (!c.Memory.Contains(rsp, 8))
        {
            return new StopReason.OutsideMemory(c.Level, i.Rip, rsp);
        }
        var target = c.Memory.Read(rsp, 8);
        var release = i.A.Kind == OperandKind.Immediate ? i.A.Value & 0xFFFF : 0;
        c.Gprs[Registers.Rsp] = rsp + 8 + release;
        c.Rip = target;
        return null;
    }

    private static StopReason? Push(ref Cpu c, Insn i) => Push(ref c, i, Read(c, i.A));

    private static StopReason? Push(ref Cpu c, Insn i, ulong pushed)
    {
        var size = i.OpSize;
        var value = pushed & Alu.Mask(size);
        var rsp = c.Gprs[Registers.Rsp] - size;
        if (!c.Memory.Contains(rsp, size))
        {
            return new StopReason.OutsideMemory(c.Level, i.Rip, rsp);
        }
        c.Memory = c.Memory.Write(rsp, size, value);
        c.Gprs[Registers.Rsp] = rsp;
        c.Rip = i.NextRip;
        return null;
    }

    private static StopReason? Pop(ref Cpu c, Insn i)
    {
        var size = i.OpSize;
        var rsp = c.Gprs[Registers.Rsp];
        if (!c.Memory.Contains(rsp, size))
        {
            return new StopReason.OutsideMemory(c.Level, i.Rip, rsp);
        }
        var value = c.Memory.Read(rsp, size);
        c.Gprs[Registers.Rsp] = rsp + size;
        if (i.A.Kind == OperandKind.Memory && !c.Memory.Contains(Address(c, i.A), size))
        {
            return new StopReason.OutsideMemory(c.Level, i.Rip, Address(c, i.A));
        }
        return WriteAndNext(ref c, i, i.A, value, c.Rflags);
    }

    // ---- Core events and faults ----

    /// <summary>Applies a Core event with the run's policy, logs it and any observation, and returns the observation.</summary>
    public static Observation? Apply(ref Cpu c, VcpuEvent e, ulong rip, RunLog log, int level)
    {
        var t = Kvm.Step(log.Policy, c.Kvm, e);
        log.Trace.Add(e);
        log.Effort += t.Effort;
        c.Kvm = t.State;
        if (t.Observation is { } o)
        {
            log.Observations.Add(log.Events.Observed(level, rip, o));
        }
        return t.Observation;
    }

    /// <summary>A fault the interpreter itself raises: logged, then delivered.</summary>
    public static StopReason? RaiseFault(ref Cpu c, Insn i, X86Exception vector, RunLog log)
    {
        log.Observations.Add(new RunObservation.Fault(c.Level, i.Rip, vector));
        return DeliverFault(ref c, i, vector, log);
    }

    /// <summary>
    /// Delivers a fault: in L2 a set bit in vmcs12's exception bitmap makes it a VM exit (reason 0) to L1; otherwise
    /// there is no IDT to deliver through and the run stops.
    /// </summary>
    public static StopReason? DeliverFault(ref Cpu c, Insn i, X86Exception vector, RunLog log)
    {
        var v = (int)vector;
        if (c.InL2 && ((c.Vmx.Read(VmcsField.ExceptionBitmap) >> v) & 1) != 0)
        {
            // Interruption information: vector, type 3 (hardware exception), error code valid for #GP, valid.
            var info = (uint)v | (3u << 8) | (vector == X86Exception.GP ? 1u << 11 : 0) | (1u << 31);
            return Nested.Exit(ref c, i, ExitReason.ExceptionOrNmi, 0, info, log);
        }
        return new StopReason.UnhandledFault(c.Level, i.Rip, vector);
    }
}
