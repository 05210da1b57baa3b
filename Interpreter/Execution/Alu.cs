using System.Numerics;
using System.Runtime.CompilerServices;
using CpuidFunctional.Interpreter.Machine;

namespace CpuidFunctional.Interpreter.Execution;

/// <summary>Integer results and the arithmetic flags they set (SDM Vol. 2, per instruction). Pure functions.</summary>
internal static class Alu
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Mask(int size) => size >= 8 ? ulong.MaxValue : (1ul << (size * 8)) - 1;

    public static ulong SignBit(int size) => 1ul << ((size * 8) - 1);

    public static ulong SignExtend(ulong value, int size) =>
        size switch
        {
            1 => (ulong)(long)(sbyte)value,
            2 => (ulong)(long)(short)value,
            4 => (ulong)(long)(int)value,
            _ => value,
        };

    /// <summary>ZF, SF and PF of a result.</summary>
    public static ulong Szp(ulong result, int size)
    {
        var flags = 0ul;
        if ((result & Mask(size)) == 0)
        {
            flags |= Rflags.ZF;
        }
        if ((result & SignBit(size)) != 0)
        {
            flags |= Rflags.SF;
        }
        if ((BitOperations.PopCount(result & 0xFF) & 1) == 0)
        {
            flags |= Rflags.PF;
        }
        return flags;
    }

    public static ulong Merge(ulong rflags, ulong newFlags, ulong which) => (rflags & ~which) | (newFlags & which);

    public static (ulong Result, ulong Flags) Add(ulong a, ulong b, int size)
    {
        var mask = Mask(size);
        a &= mask;
        b &= mask;
        var r = (a + b) & mask;
        var flags = Szp(r, size);
        if (r < a)
        {
            flags |= Rflags.CF;
        }
        if (((a ^ r) & (b ^ r) & SignBit(size)) != 0)
        {
            flags |= Rflags.OF;
        }
        if (((a ^ b ^ r) & 0x10) != 0)
        {
            flags |= Rflags.AF;
        }
        return (r, flags);
    }

    public static (ulong Result, ulong Flags) Sub(ulong a, ulong b, int size)
    {
        var mask = Mask(size);
        a &= mask;
        b &= mask;
        var r = (a - b) & mask;
        var flags = Szp(r, size);
        if (a < b)
        {
            flags |= Rflags.CF;
        }
        if (((a ^ b) & (a ^ r) & SignBit(size)) != 0)
        {
            flags |= Rflags.OF;
        }
        if (((a ^ b ^ r) & 0x10) != 0)
        {
            flags |= Rflags.AF;
        }
        return (r, flags);
    }

    /// <summary>AND, OR, XOR, TEST: CF and OF cleared, AF undefined (cleared here).</summary>
    public static ulong Logic(ulong result, int size) => Szp(result, size);

    /// <summary>Shifts: count already masked; count 0 leaves flags alone. OF is defined for count 1 only (computed the same way otherwise).</summary>
    public static (ulong Result, ulong Flags) Shift(Op op, ulong value, int count, int size, ulong rflags)
    {
        var mask = Mask(size);
        value &= mask;
        if (count == 0)
        {
            return (value, rflags);
        }
        var bits = size * 8;
        ulong r;
        bool cf;
        bool of;
        switch (op)
        {
            case Op.Shl:
                r = count >= 64 ? 0 : (value << count) & mask;
                cf = count <= bits && ((value >> (bits - count)) & 1) != 0;
                of = ((r & SignBit(size)) != 0) ^ cf;
                break;
            case Op.Shr:
                r = count >= 64 ? 0 : value >> count;
                cf = ((value >> (count - 1)) & 1) != 0;
                of = (value & SignBit(size)) != 0;
                break;
            default:
                var signed = (long)SignExtend(value, size);
                r = (ulong)(signed >> Math.Min(count, 63)) & mask;
                cf = ((signed >> Math.Min(count - 1, 63)) & 1) != 0;
                of = false;
                break;
        }
        var flags = Szp(r, size) | (cf ? Rflags.CF : 0) | (of ? Rflags.OF : 0);
        return (r, Merge(rflags, flags, Rflags.Arithmetic));
    }

    public static bool Holds(Condition c, ulong f) =>
        c switch
        {
            Condition.O => (f & Rflags.OF) != 0,
            Condition.NO => (f & Rflags.OF) == 0,
            Condition.B => (f & Rflags.CF) != 0,
            Condition.AE => (f & Rflags.CF) == 0,
            Condition.E => (f & Rflags.ZF) != 0,
            Condition.NE => (f & Rflags.ZF) == 0,
            Condition.BE => (f & (Rflags.CF | Rflags.ZF)) != 0,
            Condition.A => (f & (Rflags.CF | Rflags.ZF)) == 0,
            Condition.S => (f & Rflags.SF) != 0,
            Condition.NS => (f & Rflags.SF) == 0,
            Condition.P => (f & Rflags.PF) != 0,
            Condition.NP => (f & Rflags.PF) == 0,
            Condition.L => ((f & Rflags.SF) != 0) != ((f & Rflags.OF) != 0),
            Condition.GE => ((f & Rflags.SF) != 0) == ((f & Rflags.OF) != 0),
            Condition.LE => (f & Rflags.ZF) != 0 || (((f & Rflags.SF) != 0) != ((f & Rflags.OF) != 0)),
            _ => (f & Rflags.ZF) == 0 && (((f & Rflags.SF) != 0) == ((f & Rflags.OF) != 0)),
        };
}
