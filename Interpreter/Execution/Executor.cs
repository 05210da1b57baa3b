using System.Diagnostics;
using System.Runtime.CompilerServices;
using CpuidFunctional.Interpreter.Machine;
using static CpuidFunctional.Interpreter.Execution.Operands;

namespace CpuidFunctional.Interpreter.Execution;

/// <summary>
/// The step function: one instruction, <c>(machine, instruction) → machine'</c> plus what the run log records. The
/// machine is the run loop's working copy (<see cref="Cpu"/>), updated in place; the objects it points to stay
/// immutable. Returns a stop reason, or null to continue. In L2 it asks <see cref="VmxReflect"/> first, once, whether
/// the instruction is L1's (then it performs the VM exit and no handler runs), and once more for a fault the
/// instruction raised. Data and control-flow instructions live here; system and VMX instructions in
/// <see cref="SystemOps"/> and <see cref="VmxOps"/>, which never call back into the stepper.
/// </summary>
internal static class Executor
{
    /// <remarks>
    /// Performance: a register-only instruction in L1 (most of every workload's) goes straight to
    /// <see cref="Execute"/>. The memory-operand check and L2's reflection are out of line: as part of this method they
    /// needed six saved registers and a stack slot that every instruction paid for (half of this method's samples
    /// were its prologue).
    /// </remarks>
    public static StopReason? Step(ref Cpu c, Insn i, RunLog log) =>
        HasMemoryOperand(i) ? StepWithMemoryOperands(ref c, i, log) : AtLevel(ref c, i, log);

    /// <summary><see cref="Step"/> for an instruction with a memory operand: its addresses must lie in guest memory.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static StopReason? StepWithMemoryOperands(ref Cpu c, Insn i, RunLog log) =>
        MemoryOperandsInMemory(c, i, out var bad) ? AtLevel(ref c, i, log) : new StopReason.OutsideMemory(c.Level, i.Rip, bad);

    /// <summary>L0's semantics in L1; in L2, the reflection first.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static StopReason? AtLevel(ref Cpu c, Insn i, RunLog log) =>
        c.InL2 ? StepInL2(ref c, i, log) : Execute(ref c, i, log);

    /// <summary>An instruction in L2: L1's if it wants it, else L0's; a fault it raises is L1's if L1 intercepts it.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static StopReason? StepInL2(ref Cpu c, Insn i, RunLog log)
    {
        // nested_vmx_reflect_vmexit / nested_svm_exit_handled: L1's interest is decided before any of L0's handlers runs.
        var svm = c.Svm.Running;
        var stop = (svm ? SvmReflect.L1WantsExit(c, i) : VmxReflect.L1WantsExit(c, i)) switch
        {
            Reflection.HandleHere => Execute(ref c, i, log),
            Reflection.ExitToL1 exit => ExitToL1(ref c, i, exit, svm, log),
            Reflection.Fault fault => log.Raise(c, i, fault.Vector),
            _ => throw new UnreachableException(),
        };
        // A fault raised in L2 is L1's if it intercepts it; otherwise it stops the run (no IDT).
        return stop is StopReason.UnhandledFault unhandled
            && (svm ? SvmReflect.L1WantsException(c, unhandled.Vector) : VmxReflect.L1WantsException(c, unhandled.Vector)) is Reflection.ExitToL1 exception
            ? ExitToL1(ref c, i, exception, svm, log)
            : stop;
    }

    private static StopReason? ExitToL1(ref Cpu c, Insn i, Reflection.ExitToL1 exit, bool svm, RunLog log) =>
        svm ? SvmNested.Vmexit(ref c, i, exit, log) : Nested.Exit(ref c, i, exit, log);

    /// <summary>The instruction's semantics at the running level (in L2: what L0 does when L1 does not want it).</summary>
    private static StopReason? Execute(ref Cpu c, Insn i, RunLog log)
    {
        switch (i.Op)
        {
            case Op.Nop:
                c.Rip = i.NextRip;
                return null;
            case Op.Mov:
                return WriteAndNext(ref c, i, i.A, Read(c, i.B) & Alu.Mask(i.A.Size), c.Rflags, log);
            case Op.Movzx:
                return WriteAndNext(ref c, i, i.A, Read(c, i.B), c.Rflags, log);
            case Op.Movsx:
                return WriteAndNext(ref c, i, i.A, Alu.SignExtend(Read(c, i.B), i.B.Size) & Alu.Mask(i.A.Size), c.Rflags, log);
            case Op.Lea:
                return WriteAndNext(ref c, i, i.A, Address(c, i.B) & Alu.Mask(i.A.Size), c.Rflags, log);
            case Op.Add:
            case Op.Sub:
            case Op.Cmp:
                return Arithmetic(ref c, i, log);
            case Op.And:
            case Op.Or:
            case Op.Xor:
            case Op.Test:
                return Logical(ref c, i, log);
            case Op.Inc:
            case Op.Dec:
                return IncDec(ref c, i, log);
            case Op.Not:
                return WriteAndNext(ref c, i, i.A, ~Read(c, i.A) & Alu.Mask(i.A.Size), c.Rflags, log);
            case Op.Neg:
                {
                    var (r, f) = Alu.Sub(0, Read(c, i.A), i.A.Size);
                    return WriteAndNext(ref c, i, i.A, r, Alu.Merge(c.Rflags, f, Rflags.Arithmetic), log);
                }
            case Op.Shl:
            case Op.Shr:
            case Op.Sar:
                {
                    var count = (int)((i.B.Kind == OperandKind.None ? 1 : Read(c, i.B)) & (i.A.Size == 8 ? 63ul : 31ul));
                    var (r, f) = Alu.Shift(i.Op, Read(c, i.A), count, i.A.Size, c.Rflags);
                    return WriteAndNext(ref c, i, i.A, r, f, log);
                }
            case Op.Bt:
            case Op.Bts:
            case Op.Btr:
                return BitTest(ref c, i, log);
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
                return Pop(ref c, i, log);
            case Op.Pushf:
                return Push(ref c, i, c.Rflags);
            case Op.Invalid:
                return log.Raise(c, i, X86Exception.UD);
            case Op.Unsupported:
                return new StopReason.Unsupported(c.Level, i.Rip, i.HexBytes, i.Text, i.Why ?? "unsupported");
            case var op when op.IsSystemInstruction():
                return SystemOps.Step(ref c, i, log);
            case var op when op.IsVmxInstruction():
                return VmxOps.Step(ref c, i, log);
            case var op when op.IsSvmInstruction():
                return SvmOps.Step(ref c, i, log);
            default:
                return new StopReason.Unsupported(c.Level, i.Rip, i.HexBytes, i.Text, $"no semantics for {i.Op}");
        }
    }

    // ---- data instructions ----

    private static StopReason? Arithmetic(ref Cpu c, Insn i, RunLog log)
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
        return WriteAndNext(ref c, i, i.A, r, rflags, log);
    }

    private static StopReason? Logical(ref Cpu c, Insn i, RunLog log)
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
        return WriteAndNext(ref c, i, i.A, r, rflags, log);
    }

    private static StopReason? IncDec(ref Cpu c, Insn i, RunLog log)
    {
        var (r, f) = i.Op == Op.Inc ? Alu.Add(Read(c, i.A), 1, i.A.Size) : Alu.Sub(Read(c, i.A), 1, i.A.Size);
        // INC and DEC leave CF alone.
        var rflags = Alu.Merge(c.Rflags, f, Rflags.Arithmetic & ~Rflags.CF);
        return WriteAndNext(ref c, i, i.A, r, rflags, log);
    }

    private static StopReason? BitTest(ref Cpu c, Insn i, RunLog log)
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
        return WriteAndNext(ref c, i, target, updated, rflags, log);
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

    private static StopReason? Pop(ref Cpu c, Insn i, RunLog log)
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
        return WriteAndNext(ref c, i, i.A, value, c.Rflags, log);
    }
}
