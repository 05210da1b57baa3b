using System.Runtime.CompilerServices;
using CpuidFunctional.Interpreter.Machine;

namespace CpuidFunctional.Interpreter.Execution;

/// <summary>
/// Reading and writing an instruction's operands on the working copy: what every handler uses, below the stepper
/// (<see cref="Executor"/>), the handlers (<see cref="SystemOps"/>, <see cref="VmxOps"/>) and the reflection
/// (<see cref="VmxReflect"/>), so none of them calls another for it.
/// </summary>
internal static class Operands
{
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

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong ReadGpr(in Cpu c, in Operand o) =>
        o.HighByte ? (c.Gprs[o.Register] >> 8) & 0xFF : c.Gprs[o.Register] & Alu.Mask(o.Size);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong MergeGpr(ulong old, ulong value, int size, bool high) =>
        size switch
        {
            1 when high => (old & ~0xFF00ul) | ((value & 0xFF) << 8),
            1 => (old & ~0xFFul) | (value & 0xFF),
            2 => (old & ~0xFFFFul) | (value & 0xFFFF),
            4 => value & 0xFFFF_FFFF,
            _ => value,
        };

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Read(in Cpu c, in Operand o) =>
        o.Kind switch
        {
            OperandKind.Register => ReadGpr(c, o),
            OperandKind.Immediate => o.Value,
            OperandKind.Memory => ReadMemory(c, o),
            _ => 0,
        };

    // The memory paths are out of line, so that the register paths inlined into every handler leave the JIT's
    // inlining budget for the small helpers they call (Alu.Mask, MergeGpr, the register file's indexer).
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static ulong ReadMemory(in Cpu c, in Operand o) => c.Memory.Read(Address(c, o), o.Size);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void WriteMemory(ref Cpu c, in Operand o, ulong value, RunLog log) => c.Memory = log.MemoryVersions.Write(c.Memory, Address(c, o), o.Size, value);

    /// <summary>Writes a register or memory operand, sets RFLAGS and moves to the next instruction.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static StopReason? WriteAndNext(ref Cpu c, Insn i, in Operand o, ulong value, ulong rflags, RunLog log)
    {
        if (o.Kind == OperandKind.Register)
        {
            c.Gprs[o.Register] = MergeGpr(c.Gprs[o.Register], value, o.Size, o.HighByte);
        }
        else
        {
            WriteMemory(ref c, o, value, log);
        }
        c.Rip = i.NextRip;
        c.Rflags = rflags;
        return null;
    }

    /// <summary>Whether an operand of <paramref name="i"/> is in memory (no instruction of the workloads' loops has one).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool HasMemoryOperand(Insn i) => i.A.Kind == OperandKind.Memory || i.B.Kind == OperandKind.Memory;

    /// <summary>Whether the memory operands of <paramref name="i"/> lie in guest memory; <paramref name="bad"/> is the first address that does not.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static bool MemoryOperandsInMemory(in Cpu c, Insn i, out ulong bad)
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

    /// <summary>The port of IN (operand B) or OUT (operand A): the imm8, or DX; and whether it was the immediate.</summary>
    public static (ushort Port, bool Immediate) IoPort(in Cpu c, Insn i)
    {
        var o = i.Op == Op.In ? i.B : i.A;
        var immediate = o.Kind == OperandKind.Immediate;
        return ((ushort)(immediate ? o.Value & 0xFF : c.Gprs[Registers.Rdx] & 0xFFFF), immediate);
    }
}
