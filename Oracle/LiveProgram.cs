using System.Buffers.Binary;
using System.Collections.Immutable;
using System.Diagnostics;
using CpuidFunctional.Core.Cpuid;
using CpuidFunctional.Oracle.Native;

namespace CpuidFunctional.Oracle;

/// <summary>
/// Runs a flat 64-bit program (an interpreter program image) on the live kernel as its only vCPU: the memory the
/// <see cref="ProgramMachine"/> promises, identity mapped by page tables placed after it (so the program's memory is
/// all its own and all zero but for the image), the long-mode registers a VMM sets, the guest CPUID the caller gives,
/// then KVM_RUN until the program stops, recording every OUT. A nested program is the L1 hypervisor: its VMRUN or
/// VMLAUNCH goes to the kernel's nested support, and its L2's OUTs (not intercepted by L1) reach the host like L1's.
/// </summary>
public static class LiveProgram
{
    /// <summary>How many exits a run may take before it is reported as still running.</summary>
    public const int DefaultMaxExits = 100_000;

    // After the program's memory: PML4, PDPT, PD (2 MiB pages, up to 1 GiB), GDT, TSS.
    private const int Pml4 = 0x0000;
    private const int Pdpt = 0x1000;
    private const int PageDirectory = 0x2000;
    private const int Gdt = 0x3000;
    private const int Tss = 0x4000;
    private const int TablesSize = 0x5000;

    private const ulong LargePage = 0x20_0000;
    private const ulong PresentWritable = 0x3;
    private const ulong LargePageBit = 0x80;
    private const ushort CodeSelector = 0x08;
    private const ushort DataSelector = 0x10;
    private const ushort TssSelector = 0x18;
    private const int GdtEntries = 5; // null, code, data, the 16-byte TSS descriptor
    private const uint TssLimit = 0x67;
    private const byte BusyTss64 = 0xB;
    private const ulong Code64Dpl0 = 0x00AF_9A00_0000_FFFF; // L, P, S, execute/read; G
    private const ulong MaxMemory = 512 * LargePage; // what one page directory maps

    /// <summary>
    /// Creates a VM and its vCPU, installs <paramref name="image"/> at <see cref="ProgramMachine.LoadAddress"/>, sets
    /// KVM_SET_CPUID2(<paramref name="table"/>), the machine's registers, and runs to the first exit that is not an OUT.
    /// </summary>
    /// <param name="kvm">The open /dev/kvm.</param>
    /// <param name="table">The guest CPUID (usually the kernel's KVM_GET_SUPPORTED_CPUID).</param>
    /// <param name="machine">The machine the program expects.</param>
    /// <param name="image">The flat binary.</param>
    /// <param name="maxExits">Exits after which the run is stopped as <see cref="LiveStop.ExitLimit"/>.</param>
    public static LiveProgramRun Run(KvmSystem kvm, CpuidTable table, ProgramMachine machine, ReadOnlySpan<byte> image, int maxExits = DefaultMaxExits)
    {
        if (machine.MemorySize % LargePage != 0 || machine.MemorySize > MaxMemory || machine.LoadAddress + (ulong)image.Length > machine.MemorySize)
        {
            return Stopped(new LiveStop.Failed($"a {image.Length}-byte image at 0x{machine.LoadAddress:x} in 0x{machine.MemorySize:x} bytes of 2 MiB pages"));
        }
        var created = kvm.CreateVm((int)machine.MemorySize + TablesSize);
        if (created is not IoctlResult<LiveVm>.Ok(var vm))
        {
            return Stopped(new LiveStop.Failed($"{created}"));
        }
        using (vm)
        {
            var vcpuCreated = vm.CreateVcpu();
            if (vcpuCreated is not IoctlResult<LiveVcpu>.Ok(var vcpu))
            {
                return Stopped(new LiveStop.Failed($"{vcpuCreated}"));
            }
            using (vcpu)
            {
                Install(vm.Memory, machine, image);
                return SetUp(vcpu, table, machine) is IoctlResult<int>.Failed failed
                    ? Stopped(new LiveStop.Failed($"{failed}"))
                    : RunToStop(vcpu, maxExits);
            }
        }
    }

    private static LiveProgramRun Stopped(LiveStop stop) => new([], stop);

    private static LiveProgramRun RunToStop(LiveVcpu vcpu, int maxExits)
    {
        var outputs = ImmutableArray.CreateBuilder<LiveOutput>();
        for (var i = 0; i < maxExits; i++)
        {
            switch (vcpu.Run())
            {
                case IoctlResult<RunExit>.Failed failed:
                    return new LiveProgramRun(outputs.ToImmutable(), new LiveStop.Failed($"{failed}"));
                case IoctlResult<RunExit>.Ok({ IsOut: true } exit):
                    outputs.Add(new LiveOutput(exit.Port, exit.IoValue, exit.IoSize));
                    break;
                case IoctlResult<RunExit>.Ok(var exit):
                    return new LiveProgramRun(outputs.ToImmutable(), Stop(exit));
                default:
                    throw new UnreachableException();
            }
        }
        return new LiveProgramRun(outputs.ToImmutable(), new LiveStop.ExitLimit(maxExits));
    }

    private static LiveStop Stop(RunExit exit) => exit.Reason switch
    {
        RunExit.Hlt => new LiveStop.Halted(exit.Rip),
        RunExit.Shutdown => new LiveStop.Shutdown(exit.Rip),
        _ => new LiveStop.UnexpectedExit(exit),
    };

    /// <summary>The image, and after the program's memory the identity map, the GDT and the TSS.</summary>
    private static void Install(Span<byte> memory, ProgramMachine machine, ReadOnlySpan<byte> image)
    {
        image.CopyTo(memory[(int)machine.LoadAddress..]);
        var tables = memory[(int)machine.MemorySize..];
        BinaryPrimitives.WriteUInt64LittleEndian(tables[Pml4..], machine.MemorySize + Pdpt + PresentWritable);
        BinaryPrimitives.WriteUInt64LittleEndian(tables[Pdpt..], machine.MemorySize + PageDirectory + PresentWritable);
        for (ulong page = 0; page < machine.MemorySize / LargePage; page++)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(tables[(PageDirectory + (int)(page * 8))..], (page * LargePage) | PresentWritable | LargePageBit);
        }
        BinaryPrimitives.WriteUInt64LittleEndian(tables[(Gdt + CodeSelector)..], Code64Dpl0);
        BinaryPrimitives.WriteUInt64LittleEndian(tables[(Gdt + DataSelector)..], GuestLayout.FlatDataDpl0);
        BinaryPrimitives.WriteUInt64LittleEndian(tables[(Gdt + TssSelector)..], TssDescriptorLow(machine.MemorySize + Tss));
    }

    /// <summary>The low half of a 64-bit busy-TSS descriptor (the high half, base bits 63:32, is zero here).</summary>
    private static ulong TssDescriptorLow(ulong tssBase) =>
        TssLimit
        | ((tssBase & 0xFF_FFFF) << 16)
        | ((ulong)BusyTss64 << 40)
        | (1ul << 47) // P
        | ((tssBase >> 24 & 0xFF) << 56);

    private static IoctlResult<int> SetUp(LiveVcpu vcpu, CpuidTable table, ProgramMachine machine)
    {
        if (vcpu.SetCpuid2(table) is IoctlResult<int>.Failed cpuidFailed)
        {
            return cpuidFailed;
        }
        var read = vcpu.GetSregs();
        if (read is not IoctlResult<KvmSregs>.Ok(var s))
        {
            return read.Select(_ => 0);
        }
        var code = new KvmSegment { Limit = 0xFFFF_FFFF, Selector = CodeSelector, Type = 0xB, Present = 1, S = 1, L = 1, G = 1 };
        var data = new KvmSegment { Limit = 0xFFFF_FFFF, Selector = DataSelector, Type = 0x3, Present = 1, S = 1, Db = 1, G = 1 };
        s.Cs = code;
        s.Ds = s.Es = s.Fs = s.Gs = s.Ss = data;
        s.Tr = new KvmSegment { Base = machine.MemorySize + Tss, Limit = TssLimit, Selector = TssSelector, Type = BusyTss64, Present = 1 };
        s.Ldt = new KvmSegment { Unusable = 1 };
        s.Gdt = new KvmDtable { Base = machine.MemorySize + Gdt, Limit = (GdtEntries * 8) - 1 };
        s.Idt = new KvmDtable { Base = 0, Limit = 0 }; // no IDT: a fault is a triple fault, as in the interpreter
        s.Cr0 = machine.Cr0;
        s.Cr3 = machine.MemorySize + Pml4;
        s.Cr4 = machine.Cr4;
        s.Efer = machine.Efer;
        return vcpu.SetSregs(s) is IoctlResult<int>.Failed sregsFailed
            ? sregsFailed
            : vcpu.SetRegs(new KvmRegs { Rip = machine.LoadAddress, Rsp = machine.Rsp, Rflags = machine.Rflags });
    }
}
