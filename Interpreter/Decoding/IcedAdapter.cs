using CpuidFunctional.Interpreter.Machine;
using Iced.Intel;
using IcedInstruction = Iced.Intel.Instruction;

namespace CpuidFunctional.Interpreter.Decoding;

/// <summary>
/// The decoder boundary: decodes the bytes at a RIP with Iced and converts Iced's <c>Instruction</c> at once into an
/// <see cref="Insn"/>. Nothing past this class sees Iced. Owns one reused decoder, reader and formatter (Iced's
/// decoder is cheap only when reused), so an instance belongs to one <see cref="DecodeCache"/>.
/// </summary>
internal sealed class IcedAdapter
{
    private const int MaxInstructionLength = 15;

    private readonly ByteBufferReader reader = new();
    private readonly Iced.Intel.Decoder decoder;
    private readonly NasmFormatter formatter = new();
    private readonly StringOutput output = new();

    public IcedAdapter()
    {
        decoder = Iced.Intel.Decoder.Create(64, reader, DecoderOptions.None);
        formatter.Options.HexPrefix = "0x";
        formatter.Options.HexSuffix = "";
    }

    /// <summary>Decodes the instruction at <paramref name="rip"/>; null if RIP is outside guest memory.</summary>
    public Insn? Decode(GuestMemory memory, ulong rip)
    {
        var available = 0;
        var buffer = reader.Buffer;
        while (available < MaxInstructionLength && memory.Contains(rip + (ulong)available, 1))
        {
            buffer[available] = memory.ReadByte(rip + (ulong)available);
            available++;
        }
        if (available == 0)
        {
            return null;
        }
        reader.Reset(available);
        decoder.IP = rip;
        decoder.Decode(out var instruction);
        if (instruction.IsInvalid)
        {
            var length = Math.Max(1, instruction.Length);
            return new Insn
            {
                Op = Op.Invalid,
                Rip = rip,
                Length = length,
                Bytes = buffer[..Math.Min(length, available)].ToArray(),
                Text = "(bad)",
            };
        }
        formatter.Format(instruction, output);
        var text = output.ToStringAndReset();
        var bytes = buffer[..instruction.Length].ToArray();
        return Convert(instruction, rip, bytes, text);
    }

    private static Insn Unsupported(in IcedInstruction i, ulong rip, byte[] bytes, string text, string why) =>
        new() { Op = Op.Unsupported, Rip = rip, Length = i.Length, Bytes = bytes, Text = text, Why = why };

    private static Insn Convert(in IcedInstruction i, ulong rip, byte[] bytes, string text)
    {
        if (i.SegmentPrefix is Register.FS or Register.GS)
        {
            return Unsupported(i, rip, bytes, text, "FS/GS segment overrides are not modelled");
        }
        if (i.HasRepPrefix || i.HasRepnePrefix)
        {
            if (i.Mnemonic != Mnemonic.Pause && i.Mnemonic != Mnemonic.Nop)
            {
                return Unsupported(i, rip, bytes, text, "REP prefixes are not modelled");
            }
        }
        var op = MapMnemonic(i);
        if (op == Op.Unsupported)
        {
            return Unsupported(i, rip, bytes, text, "not in the interpreter's instruction set");
        }
        var a = default(Operand);
        var b = default(Operand);
        var target = 0ul;
        var count = i.OpCount;
        for (var n = 0; n < count; n++)
        {
            var kind = i.GetOpKind(n);
            if (kind is OpKind.NearBranch64)
            {
                target = i.NearBranch64;
                continue;
            }
            if (!TryOperand(i, n, out var operand, out var why))
            {
                return Unsupported(i, rip, bytes, text, why);
            }
            if (n == 0)
            {
                a = operand;
            }
            else if (n == 1)
            {
                b = operand;
            }
            else
            {
                return Unsupported(i, rip, bytes, text, "three-operand forms are not modelled");
            }
        }
        if (op == Op.Mov)
        {
            if (a.Kind == OperandKind.ControlRegister)
            {
                op = Op.MovToCr;
            }
            else if (b.Kind == OperandKind.ControlRegister)
            {
                op = Op.MovFromCr;
            }
        }
        if (op is Op.MovToCr or Op.MovFromCr)
        {
            var cr = op == Op.MovToCr ? a.Register : b.Register;
            if (cr is not (0 or 4))
            {
                return Unsupported(i, rip, bytes, text, "only CR0 and CR4 are modelled");
            }
        }
        if (op is Op.Jmp or Op.Call && i.GetOpKind(0) is OpKind.FarBranch16 or OpKind.FarBranch32)
        {
            return Unsupported(i, rip, bytes, text, "far transfers are not modelled");
        }
        if (op is Op.Jmp or Op.Call && count == 1 && a.Kind == OperandKind.Memory && a.Size != 8)
        {
            return Unsupported(i, rip, bytes, text, "far indirect transfers are not modelled");
        }
        if (i.Code == Code.Loop_rel8_64_ECX)
        {
            return Unsupported(i, rip, bytes, text, "LOOP with a 32-bit counter (0x67) is not modelled");
        }
        var opSize = op switch
        {
            Op.Out => b.Size,
            Op.In => a.Size,
            Op.Push or Op.Pop => a.Kind == OperandKind.Immediate ? (byte)8 : a.Size,
            Op.Pushf => (byte)8,
            _ => a.Size,
        };
        if (op is Op.Push && a.Kind == OperandKind.Immediate)
        {
            a = Operand.Imm(a.Value, 8);
        }
        return new Insn
        {
            Op = op,
            Rip = rip,
            Length = i.Length,
            Bytes = bytes,
            Text = text,
            A = a,
            B = b,
            Target = target,
            Condition = op == Op.Jcc ? MapCondition(i.ConditionCode) : default,
            OpSize = opSize,
        };
    }

    private static Op MapMnemonic(in IcedInstruction i) =>
        i.Mnemonic switch
        {
            Mnemonic.Nop => Op.Nop,
            Mnemonic.Ud2 => Op.Invalid,
            Mnemonic.Pause => Op.Pause,
            Mnemonic.Mov => Op.Mov,
            Mnemonic.Movzx => Op.Movzx,
            Mnemonic.Movsx or Mnemonic.Movsxd => Op.Movsx,
            Mnemonic.Lea => Op.Lea,
            Mnemonic.Add => Op.Add,
            Mnemonic.Sub => Op.Sub,
            Mnemonic.And => Op.And,
            Mnemonic.Or => Op.Or,
            Mnemonic.Xor => Op.Xor,
            Mnemonic.Cmp => Op.Cmp,
            Mnemonic.Test => Op.Test,
            Mnemonic.Inc => Op.Inc,
            Mnemonic.Dec => Op.Dec,
            Mnemonic.Not => Op.Not,
            Mnemonic.Neg => Op.Neg,
            Mnemonic.Shl or Mnemonic.Sal => Op.Shl,
            Mnemonic.Shr => Op.Shr,
            Mnemonic.Sar => Op.Sar,
            Mnemonic.Bt => Op.Bt,
            Mnemonic.Bts => Op.Bts,
            Mnemonic.Btr => Op.Btr,
            Mnemonic.Jo or Mnemonic.Jno or Mnemonic.Jb or Mnemonic.Jae or Mnemonic.Je or Mnemonic.Jne or Mnemonic.Jbe
                or Mnemonic.Ja or Mnemonic.Js or Mnemonic.Jns or Mnemonic.Jp or Mnemonic.Jnp or Mnemonic.Jl
                or Mnemonic.Jge or Mnemonic.Jle or Mnemonic.Jg => Op.Jcc,
            Mnemonic.Jmp => Op.Jmp,
            Mnemonic.Call => Op.Call,
            Mnemonic.Ret => Op.Ret,
            Mnemonic.Loop => Op.Loop,
            Mnemonic.Push => Op.Push,
            Mnemonic.Pop => Op.Pop,
            Mnemonic.Pushfq => Op.Pushf,
            Mnemonic.Cpuid => Op.Cpuid,
            Mnemonic.Xgetbv => Op.Xgetbv,
            Mnemonic.Xsetbv => Op.Xsetbv,
            Mnemonic.Rdmsr => Op.Rdmsr,
            Mnemonic.Wrmsr => Op.Wrmsr,
            Mnemonic.Hlt => Op.Hlt,
            Mnemonic.Out => Op.Out,
            Mnemonic.In => Op.In,
            Mnemonic.Rdpkru => Op.Rdpkru,
            Mnemonic.Wrpkru => Op.Wrpkru,
            Mnemonic.Vmxon => Op.Vmxon,
            Mnemonic.Vmxoff => Op.Vmxoff,
            Mnemonic.Vmclear => Op.Vmclear,
            Mnemonic.Vmptrld => Op.Vmptrld,
            Mnemonic.Vmptrst => Op.Vmptrst,
            Mnemonic.Vmread => Op.Vmread,
            Mnemonic.Vmwrite => Op.Vmwrite,
            Mnemonic.Vmlaunch => Op.Vmlaunch,
            Mnemonic.Vmresume => Op.Vmresume,
            Mnemonic.Vmcall => Op.Vmcall,
            Mnemonic.Vmrun => Op.Vmrun,
            Mnemonic.Vmload => Op.Vmload,
            Mnemonic.Vmsave => Op.Vmsave,
            Mnemonic.Vmmcall => Op.Vmmcall,
            Mnemonic.Stgi => Op.Stgi,
            Mnemonic.Clgi => Op.Clgi,
            _ => Op.Unsupported,
        };

    private static Condition MapCondition(ConditionCode code) =>
        code switch
        {
            ConditionCode.o => Condition.O,
            ConditionCode.no => Condition.NO,
            ConditionCode.b => Condition.B,
            ConditionCode.ae => Condition.AE,
            ConditionCode.e => Condition.E,
            ConditionCode.ne => Condition.NE,
            ConditionCode.be => Condition.BE,
            ConditionCode.a => Condition.A,
            ConditionCode.s => Condition.S,
            ConditionCode.ns => Condition.NS,
            ConditionCode.p => Condition.P,
            ConditionCode.np => Condition.NP,
            ConditionCode.l => Condition.L,
            ConditionCode.ge => Condition.GE,
            ConditionCode.le => Condition.LE,
            ConditionCode.g => Condition.G,
            _ => Condition.O,
        };

    private static bool TryOperand(in IcedInstruction i, int n, out Operand operand, out string why)
    {
        why = "";
        operand = default;
        switch (i.GetOpKind(n))
        {
            case OpKind.Register:
                var register = i.GetOpRegister(n);
                if (register.IsGPR())
                {
                    var high = register is Register.AH or Register.CH or Register.DH or Register.BH;
                    var number = (byte)(register.GetFullRegister() - Register.RAX);
                    operand = Operand.Reg(number, (byte)register.GetSize(), high);
                    return true;
                }
                if (register.IsCR())
                {
                    operand = Operand.Cr((byte)(register - Register.CR0));
                    return true;
                }
                why = $"register {register} is not modelled";
                return false;
            case OpKind.Immediate8:
            case OpKind.Immediate16:
            case OpKind.Immediate32:
            case OpKind.Immediate64:
            case OpKind.Immediate8to16:
            case OpKind.Immediate8to32:
            case OpKind.Immediate8to64:
            case OpKind.Immediate32to64:
                operand = Operand.Imm(i.GetImmediate(n), ImmediateSize(i.GetOpKind(n)));
                return true;
            case OpKind.Memory:
                return TryMemory(i, out operand, out why);
            default:
                why = $"operand kind {i.GetOpKind(n)} is not modelled";
                return false;
        }
    }

    private static byte ImmediateSize(OpKind kind) =>
        kind switch
        {
            OpKind.Immediate8 => 1,
            OpKind.Immediate16 or OpKind.Immediate8to16 => 2,
            OpKind.Immediate32 or OpKind.Immediate8to32 => 4,
            _ => 8,
        };

    private static bool TryMemory(in IcedInstruction i, out Operand operand, out string why)
    {
        why = "";
        operand = default;
        var size = (byte)i.MemorySize.GetSize();
        if (size is not (1 or 2 or 4 or 8) && i.Mnemonic is not (Mnemonic.Lea or Mnemonic.Nop))
        {
            why = $"memory operand of {size} bytes is not modelled";
            return false;
        }
        if (i.IsIPRelativeMemoryOperand)
        {
            operand = new Operand
            {
                Kind = OperandKind.Memory,
                Size = size,
                Base = Operand.NoRegister,
                Index = Operand.NoRegister,
                Value = i.IPRelativeMemoryAddress,
                Address32 = i.MemoryBase == Register.EIP,
            };
            return true;
        }
        var baseRegister = i.MemoryBase;
        var indexRegister = i.MemoryIndex;
        if ((baseRegister != Register.None && !baseRegister.IsGPR()) || (indexRegister != Register.None && !indexRegister.IsGPR()))
        {
            why = "memory operands need general-purpose base and index registers";
            return false;
        }
        var address32 = baseRegister.IsGPR32() || indexRegister.IsGPR32();
        operand = new Operand
        {
            Kind = OperandKind.Memory,
            Size = size,
            Base = baseRegister == Register.None ? Operand.NoRegister : (byte)(baseRegister.GetFullRegister() - Register.RAX),
            Index = indexRegister == Register.None ? Operand.NoRegister : (byte)(indexRegister.GetFullRegister() - Register.RAX),
            Scale = (byte)i.MemoryIndexScale,
            Value = i.MemoryDisplacement64,
            Address32 = address32,
        };
        return true;
    }
}
