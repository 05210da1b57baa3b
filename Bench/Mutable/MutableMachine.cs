using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using CpuidFunctional.Interpreter.Machine;

namespace CpuidFunctional.Bench.Mutable;

/// <summary>
/// The mutable baseline interpreter: the same instruction semantics as the functional interpreter (Executor,
/// SystemOps, VmxOps, Nested), written imperatively: registers in an array, guest memory one byte array, vmcs12
/// objects written in place, and <see cref="MutableKvm"/> for every Core rule. Instructions come from the SAME decoder
/// path as the functional interpreter (<see cref="DecodeCache"/> over Iced), so the two differ only in how state is
/// kept. One object is one run; <see cref="Record"/> turns on the observation log (for the equivalence tests).
/// The instruction rules are a second copy of the interpreter's on purpose (they read and write these fields in
/// place); the pure pieces are the interpreter's own: <see cref="Alu"/>, <c>Operands.MergeGpr</c>,
/// <see cref="InstructionGroup"/>, <c>SystemOps.IsValidCr0</c>, the VMX checks of <c>VmxOps</c> and <c>Nested</c>, the
/// exit encodings of <c>VmxReflect</c>, <see cref="VmxCapabilities"/>, <see cref="VmcsField"/> and <see cref="ExitReason"/>.
/// </summary>
internal sealed partial class MutableMachine
{
    private const int PageShift = 12;
    private const int PageSize = 1 << PageShift;
    private const int MaxInstructionLength = 15;

    private static readonly uint[] ExitFields =
    [
        VmcsField.VmExitReason, VmcsField.ExitQualification, VmcsField.VmExitInstructionLen, VmcsField.VmExitIntrInfo,
        VmcsField.VmExitIntrErrorCode, VmcsField.GuestRip, VmcsField.GuestRsp, VmcsField.GuestRflags,
        VmcsField.GuestCr0, VmcsField.GuestCr4,
    ];

    // ---- machine state, all assigned in place by the instruction that owns it ----
    private readonly ulong[] gpr = new ulong[16];
    private readonly byte[] memory = new byte[MachineLayout.MemorySize];
    private ulong rip;
    private ulong rflags = MachineLayout.InitialRflags;
    private ulong cr0 = MachineLayout.InitialCr0;
    private ulong efer = MachineLayout.InitialEfer;
    private uint pkru;
    private bool inL2;
    private bool started;

    // ---- L1's VMX state ----
    private bool vmxOn;
    private ulong vmxonPointer;
    private ulong currentPointer = VmxState.NoVmcs;
    private MutableVmcs current = new();
    private readonly Dictionary<ulong, MutableVmcs> regions = [];

    // Scratch for the MSR-load list being applied (nested_vmx_load_msr walks guest memory; no list object).
    private readonly MsrEntry[] msrScratch = new MsrEntry[VmxCapabilities.MaxMsrListEntries];

    // ---- the decoder path shared with the functional interpreter ----
    private readonly DecodeCache cache;

    // The pages instructions were fetched from, mirrored in a persistent GuestMemory for the DecodeCache: a page is
    // copied in on its first fetch, and writes to a mirrored page are applied to both (that invalidates its decodes).
    private GuestMemory code;
    private readonly bool[] mirrored = new bool[MachineLayout.MemorySize >> PageShift];

    // The instructions fetched last, direct-mapped by RIP (a CPU's decoded-instruction cache in front of the
    // DecodeCache): a hit skips the page walk of the DecodeCache and the mirroring checks. Every write to a mirrored page
    // empties it, so an instruction is served from here only while the bytes it was decoded from are unchanged.
    private const int RecentSlots = 256;
    private readonly Insn?[] recent = new Insn?[RecentSlots];

    /// <summary>
    /// A machine with <paramref name="image"/> (a booted program's memory, shared so decoded instructions stay valid
    /// across runs) and <paramref name="kvm"/> as L0's vCPU.
    /// </summary>
    public MutableMachine(GuestMemory image, int imageLength, MutableKvm kvm, DecodeCache cache)
    {
        Kvm = kvm;
        this.cache = cache;
        code = image;
        for (var a = 0; a < imageLength; a++)
        {
            memory[MachineLayout.LoadAddress + (ulong)a] = image.ReadByte(MachineLayout.LoadAddress + (ulong)a);
        }
        for (var page = MachineLayout.LoadAddress >> PageShift; page <= (MachineLayout.LoadAddress + (ulong)imageLength) >> PageShift; page++)
        {
            mirrored[page] = true;
        }
        rip = MachineLayout.LoadAddress;
        gpr[Registers.Rsp] = MachineLayout.InitialRsp;
    }

    /// <summary>L0's vCPU.</summary>
    public MutableKvm Kvm { get; }

    /// <summary>When set, observations and OUT values are logged as the functional interpreter logs them.</summary>
    public MutableLog? Record { get; init; }

    /// <summary>Number of OUT instructions reported to the host.</summary>
    public long OutCount { get; private set; }

    /// <summary>The last value reported with OUT.</summary>
    public uint LastOut { get; private set; }

    /// <summary>Instructions executed.</summary>
    public long Steps { get; private set; }

    private int Level => inL2 ? 2 : 1;

    /// <summary>Runs until HLT at L1, a stop condition, or <paramref name="maxSteps"/> instructions.</summary>
    public StopReason Run(long maxSteps)
    {
        if (!started && Start() is { } failed)
        {
            return failed;
        }
        while (true)
        {
            if (Steps >= maxSteps)
            {
                return new StopReason.StepLimit(Steps);
            }
            var insn = Fetch(rip);
            if (insn is null)
            {
                return new StopReason.OutsideMemory(Level, rip, rip);
            }
            Steps++;
            if (Step(insn) is { } stop)
            {
                return stop;
            }
        }
    }

    /// <summary>The VMM's KVM_SET_SREGS and KVM_RUN before the first instruction.</summary>
    private StopReason? Start()
    {
        var ok = Kvm.SetSregs(MachineLayout.InitialCr4, Kvm.ApicBase, cr0, efer);
        var observation = ok ? (Observation)new Observation.IoctlDone(0) : new Observation.IoctlError(Errno.EINVAL);
        Record?.Observations.Add(new RunObservation.Kvm(0, 0, observation));
        if (!ok)
        {
            return new StopReason.BootFailed(observation);
        }
        Kvm.Run();
        started = true;
        return null;
    }

    // ---- memory ----

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private Insn? Fetch(ulong address)
    {
        ref var slot = ref recent[(int)(address & (RecentSlots - 1))];
        if (slot is { } hit && hit.Rip == address)
        {
            return hit;
        }
        return slot = FetchDecoded(address);
    }

    private Insn? FetchDecoded(ulong address)
    {
        var page = address >> PageShift;
        if (page >= (ulong)mirrored.Length)
        {
            return null;
        }
        if (!mirrored[page] || ((address & (PageSize - 1)) > PageSize - MaxInstructionLength && page + 1 < (ulong)mirrored.Length && !mirrored[page + 1]))
        {
            Mirror(page);
            if (page + 1 < (ulong)mirrored.Length)
            {
                Mirror(page + 1);
            }
        }
        return cache.Fetch(code, address);
    }

    private void Mirror(ulong page)
    {
        if (mirrored[page])
        {
            return;
        }
        code = code.WriteBytes(page << PageShift, memory.AsSpan((int)(page << PageShift), PageSize));
        mirrored[page] = true;
    }

    private static bool Contains(ulong address, int size) =>
        address < MachineLayout.MemorySize && (ulong)size <= MachineLayout.MemorySize - address;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ulong ReadMemory(ulong address, int size)
    {
        var span = memory.AsSpan((int)address, size);
        return size switch
        {
            1 => span[0],
            2 => BinaryPrimitives.ReadUInt16LittleEndian(span),
            4 => BinaryPrimitives.ReadUInt32LittleEndian(span),
            _ => BinaryPrimitives.ReadUInt64LittleEndian(span),
        };
    }

    private void WriteMemory(ulong address, int size, ulong value)
    {
        var span = memory.AsSpan((int)address, size);
        switch (size)
        {
            case 1:
                span[0] = (byte)value;
                break;
            case 2:
                BinaryPrimitives.WriteUInt16LittleEndian(span, (ushort)value);
                break;
            case 4:
                BinaryPrimitives.WriteUInt32LittleEndian(span, (uint)value);
                break;
            default:
                BinaryPrimitives.WriteUInt64LittleEndian(span, value);
                break;
        }
        if (mirrored[address >> PageShift] || mirrored[(address + (ulong)size - 1) >> PageShift])
        {
            code = code.Write(address, size, value); // self-modifying code: the decode cache sees a new page
            Array.Clear(recent);
        }
    }

    // ---- operands ----

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ulong Address(in Operand o)
    {
        var address = o.Value;
        if (o.Base != Operand.NoRegister)
        {
            address += gpr[o.Base];
        }
        if (o.Index != Operand.NoRegister)
        {
            address += gpr[o.Index] * o.Scale;
        }
        return o.Address32 ? address & 0xFFFF_FFFF : address;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ulong ReadGpr(in Operand o) => o.HighByte ? (gpr[o.Register] >> 8) & 0xFF : gpr[o.Register] & Alu.Mask(o.Size);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ulong Read(in Operand o) =>
        o.Kind switch
        {
            OperandKind.Register => ReadGpr(o),
            OperandKind.Immediate => o.Value,
            OperandKind.Memory => ReadMemoryOperand(o),
            _ => 0,
        };

    // Out of line, so that the register paths inlined at every operand read and write leave the JIT's inlining budget
    // for the small helpers they call (Alu.Mask, Operands.MergeGpr).
    [MethodImpl(MethodImplOptions.NoInlining)]
    private ulong ReadMemoryOperand(in Operand o) => ReadMemory(Address(o), o.Size);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void WriteMemoryOperand(in Operand o, ulong value) => WriteMemory(Address(o), o.Size, value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Write(in Operand o, ulong value)
    {
        if (o.Kind == OperandKind.Register)
        {
            gpr[o.Register] = Operands.MergeGpr(gpr[o.Register], value, o.Size, o.HighByte);
            return;
        }
        WriteMemoryOperand(o, value);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private StopReason? WriteAndNext(Insn i, in Operand o, ulong value, ulong flags)
    {
        Write(o, value);
        rflags = flags;
        rip = i.NextRip;
        return null;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private StopReason? Next(Insn i)
    {
        rip = i.NextRip;
        return null;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool OperandsInMemory(Insn i, out ulong bad)
    {
        bad = 0;
        if (i.Op is Op.Lea or Op.Nop)
        {
            return true;
        }
        if (i.A.Kind == OperandKind.Memory && !Contains(bad = Address(i.A), Math.Max((int)i.A.Size, 1)))
        {
            return false;
        }
        return i.B.Kind != OperandKind.Memory || Contains(bad = Address(i.B), Math.Max((int)i.B.Size, 1));
    }
}
