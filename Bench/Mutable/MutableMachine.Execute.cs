using CpuidFunctional.Interpreter.Machine;

namespace CpuidFunctional.Bench.Mutable;

/// <summary>
/// Data and control-flow instructions: Executor's rules again, on this object's fields in place (the baseline's
/// point); results and flags are <see cref="Alu"/>'s, the system/VMX grouping is <see cref="InstructionGroup"/>.
/// </summary>
internal sealed partial class MutableMachine
{
    private StopReason? Step(Insn i)
    {
        if (!OperandsInMemory(i, out var bad))
        {
            return new StopReason.OutsideMemory(Level, i.Rip, bad);
        }
        if (svmGuest && SvmReflected(i, out var reflected))
        {
            return reflected;
        }
        switch (i.Op)
        {
            case Op.Nop:
                return Next(i);
            case Op.Mov:
                return WriteAndNext(i, i.A, Read(i.B) & Alu.Mask(i.A.Size), rflags);
            case Op.Movzx:
                return WriteAndNext(i, i.A, Read(i.B), rflags);
            case Op.Movsx:
                return WriteAndNext(i, i.A, Alu.SignExtend(Read(i.B), i.B.Size) & Alu.Mask(i.A.Size), rflags);
            case Op.Lea:
                return WriteAndNext(i, i.A, Address(i.B) & Alu.Mask(i.A.Size), rflags);
            case Op.Add:
            case Op.Sub:
            case Op.Cmp:
                {
                    var (r, f) = i.Op == Op.Add ? Alu.Add(Read(i.A), Read(i.B), i.A.Size) : Alu.Sub(Read(i.A), Read(i.B), i.A.Size);
                    var flags = Alu.Merge(rflags, f, Rflags.Arithmetic);
                    if (i.Op == Op.Cmp)
                    {
                        rflags = flags;
                        return Next(i);
                    }
                    return WriteAndNext(i, i.A, r, flags);
                }
            case Op.And:
            case Op.Or:
            case Op.Xor:
            case Op.Test:
                {
                    var a = Read(i.A);
                    var b = Read(i.B) & Alu.Mask(i.A.Size);
                    var r = i.Op switch
                    {
                        Op.And or Op.Test => a & b,
                        Op.Or => a | b,
                        _ => a ^ b,
                    };
                    var flags = Alu.Merge(rflags, Alu.Logic(r, i.A.Size), Rflags.Arithmetic);
                    if (i.Op == Op.Test)
                    {
                        rflags = flags;
                        return Next(i);
                    }
                    return WriteAndNext(i, i.A, r, flags);
                }
            case Op.Inc:
            case Op.Dec:
                {
                    var (r, f) = i.Op == Op.Inc ? Alu.Add(Read(i.A), 1, i.A.Size) : Alu.Sub(Read(i.A), 1, i.A.Size);
                    return WriteAndNext(i, i.A, r, Alu.Merge(rflags, f, Rflags.Arithmetic & ~Rflags.CF));
                }
            case Op.Not:
                return WriteAndNext(i, i.A, ~Read(i.A) & Alu.Mask(i.A.Size), rflags);
            case Op.Neg:
                {
                    var (r, f) = Alu.Sub(0, Read(i.A), i.A.Size);
                    return WriteAndNext(i, i.A, r, Alu.Merge(rflags, f, Rflags.Arithmetic));
                }
            case Op.Shl:
            case Op.Shr:
            case Op.Sar:
                {
                    var count = (int)((i.B.Kind == OperandKind.None ? 1 : Read(i.B)) & (i.A.Size == 8 ? 63ul : 31ul));
                    var (r, f) = Alu.Shift(i.Op, Read(i.A), count, i.A.Size, rflags);
                    return WriteAndNext(i, i.A, r, f);
                }
            case Op.Bt:
            case Op.Bts:
            case Op.Btr:
                return BitTest(i);
            case Op.Jcc:
                rip = Alu.Holds(i.Condition, rflags) ? i.Target : i.NextRip;
                return null;
            case Op.Jmp:
                rip = i.A.Kind == OperandKind.None ? i.Target : Read(i.A);
                return null;
            case Op.Loop:
                {
                    var rcx = --gpr[Registers.Rcx];
                    rip = rcx != 0 ? i.Target : i.NextRip;
                    return null;
                }
            case Op.Call:
                {
                    var target = i.A.Kind == OperandKind.None ? i.Target : Read(i.A);
                    var rsp = gpr[Registers.Rsp] - 8;
                    if (!Contains(rsp, 8))
                    {
                        return new StopReason.OutsideMemory(Level, i.Rip, rsp);
                    }
                    WriteMemory(rsp, 8, i.NextRip);
                    gpr[Registers.Rsp] = rsp;
                    rip = target;
                    return null;
                }
            case Op.Ret:
                {
                    var rsp = gpr[Registers.Rsp];
                    if (!Contains(rsp, 8))
                    {
                        return new StopReason.OutsideMemory(Level, i.Rip, rsp);
                    }
                    var target = ReadMemory(rsp, 8);
                    gpr[Registers.Rsp] = rsp + 8 + (i.A.Kind == OperandKind.Immediate ? i.A.Value & 0xFFFF : 0);
                    rip = target;
                    return null;
                }
            case Op.Push:
                return Push(i, Read(i.A));
            case Op.Pushf:
                return Push(i, rflags);
            case Op.Pop:
                {
                    var size = i.OpSize;
                    var rsp = gpr[Registers.Rsp];
                    if (!Contains(rsp, size))
                    {
                        return new StopReason.OutsideMemory(Level, i.Rip, rsp);
                    }
                    var value = ReadMemory(rsp, size);
                    gpr[Registers.Rsp] = rsp + size;
                    if (i.A.Kind == OperandKind.Memory && !Contains(Address(i.A), size))
                    {
                        return new StopReason.OutsideMemory(Level, i.Rip, Address(i.A));
                    }
                    return WriteAndNext(i, i.A, value, rflags);
                }
            case Op.Invalid:
                return RaiseFault(i, X86Exception.UD);
            case Op.Unsupported:
                return new StopReason.Unsupported(Level, i.Rip, i.HexBytes, i.Text, i.Why ?? "unsupported");
            case var op when op.IsSystemInstruction():
                return SystemStep(i);
            case var op when op.IsVmxInstruction():
                return VmxStep(i);
            case var op when op.IsSvmInstruction():
                return SvmStep(i);
            default:
                return new StopReason.Unsupported(Level, i.Rip, i.HexBytes, i.Text, $"no semantics for {i.Op}");
        }
    }

    private StopReason? Push(Insn i, ulong pushed)
    {
        var size = i.OpSize;
        var rsp = gpr[Registers.Rsp] - size;
        if (!Contains(rsp, size))
        {
            return new StopReason.OutsideMemory(Level, i.Rip, rsp);
        }
        WriteMemory(rsp, size, pushed & Alu.Mask(size));
        gpr[Registers.Rsp] = rsp;
        return Next(i);
    }

    private StopReason? BitTest(Insn i)
    {
        var bits = i.A.Size * 8;
        var offset = Read(i.B);
        var target = i.A;
        if (i.A.Kind == OperandKind.Memory && i.B.Kind == OperandKind.Register)
        {
            var signed = (long)Alu.SignExtend(offset, i.B.Size);
            var displacement = (signed >> (int)Math.Log2(bits)) * i.A.Size;
            target = target with { Value = target.Value + (ulong)displacement };
            if (!Contains(Address(target), target.Size))
            {
                return new StopReason.OutsideMemory(Level, i.Rip, Address(target));
            }
        }
        var bit = (int)(offset & (ulong)(bits - 1));
        var value = Read(target);
        var set = ((value >> bit) & 1) != 0;
        var flags = set ? rflags | Rflags.CF : rflags & ~Rflags.CF;
        if (i.Op == Op.Bt)
        {
            rflags = flags;
            return Next(i);
        }
        return WriteAndNext(i, target, i.Op == Op.Bts ? value | (1ul << bit) : value & ~(1ul << bit), flags);
    }

    // ---- faults ----

    /// <summary>A fault the interpreter raises itself: logged, then delivered.</summary>
    private StopReason? RaiseFault(Insn i, X86Exception vector)
    {
        Record?.Observations.Add(new RunObservation.Fault(Level, i.Rip, vector));
        return DeliverFault(i, vector);
    }

    /// <summary>A fault Core's rules refused an event with: logged as a Core observation, then delivered.</summary>
    private StopReason? CoreFault(Insn i, X86Exception vector)
    {
        Record?.Observations.Add(new RunObservation.Kvm(Level, i.Rip, new Observation.Fault(vector)));
        return DeliverFault(i, vector);
    }

    // Not VmxReflect.L1WantsException: that one reads the functional Cpu; the rule and the encoding are its pure parts.
    private StopReason? DeliverFault(Insn i, X86Exception vector) =>
        VmxGuest && VmxReflect.IsExceptionVmexit(current.Read(VmcsField.ExceptionBitmap), vector)
            ? Exit(i, ExitReason.ExceptionOrNmi, 0, VmxReflect.ExceptionInterruptionInfo(vector))
            : svmGuest && SvmExceptionExit(vector) is { } code ? SvmVmexit(i, code, 0)
            : new StopReason.UnhandledFault(Level, i.Rip, vector);
}
