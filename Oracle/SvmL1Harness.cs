using System.Buffers.Binary;
using System.Collections.Immutable;
using CpuidFunctional.Core.Cpuid;
using CpuidFunctional.Core.State;
using CpuidFunctional.Oracle.Native;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace CpuidFunctional.Oracle;

/// <summary>
/// The oracle's guest as an L1 hypervisor on kvm_amd (the L0): a flat 32-bit CPL0 program (paged: one identity 4 MiB
/// page, since KVM refuses SVM instructions without paging) with a VMCB in memory executes
/// VMRUN into a flat 32-bit L2 that runs CPUID(1) and VMMCALL, and after the #VMEXIT runs CPUID(1) itself. This is
/// the round trip the nested SVM issue builds on: whether L1 intercepts CPUID decides whether kvm_amd answers L2's
/// CPUID itself (<c>nested_svm_exit_handled</c>: not intercepted → <c>kvm_emulate_cpuid</c> with L2's CR4, loaded
/// at VMRUN by <c>nested_vmcb02_prepare_save</c> → <c>svm_set_cr4</c>) or reflects it to L1 (exit code 0x72).
/// </summary>
public static class SvmL1Harness
{
    // Guest-physical layout (all inside the 1 MiB VM). Page-aligned where SVM requires it.
    private const int L1Code = 0x1000;
    private const int L2Code = 0x2000;
    private const int Gdt = 0x3000;
    private const int PageDirectory = 0x4000; // one 4 MiB PSE page: L1 identity-mapped (KVM wants paging for VMRUN)
    private const int StackTop = 0x9000;
    private const int Vmcb12 = 0x10000;
    private const int HostSave = 0x11000;
    private const int Results = 0x12000; // u32 x 4 of L2's CPUID(1), then u32 x 4 of L1's after the #VMEXIT
    private const int Iopm = 0x14000; // 12 KiB of zeros: L1 intercepts no port
    private const int Msrpm = 0x18000; // 8 KiB of zeros: L1 intercepts no MSR
    private const ushort DonePort = 0x12;

    // VMCB control area (AMD APM vol. 2, appendix B).
    private const int InterceptMisc1 = 0x0C; // bit 18: CPUID
    private const int InterceptMisc2 = 0x10; // bit 0: VMRUN (mandatory), bit 1: VMMCALL
    private const int IopmBasePa = 0x40;
    private const int MsrpmBasePa = 0x48;
    private const int GuestAsid = 0x58;
    private const int ExitCodeOffset = 0x70;

    // VMCB state-save area, at 0x400.
    private const int SaveEs = 0x400; // ES, CS, SS, DS at 0x10 strides: selector u16, attrib u16, limit u32, base u64
    private const int SaveGdtr = 0x460;
    private const int SaveIdtr = 0x480;
    private const int SaveEfer = 0x4D0;
    private const int SaveCr4 = 0x548;
    private const int SaveCr0 = 0x558;
    private const int SaveDr7 = 0x560;
    private const int SaveDr6 = 0x568;
    private const int SaveRflags = 0x570;
    private const int SaveRip = 0x578;
    private const int SaveRsp = 0x5D8;

    private const uint InterceptCpuidBit = 1u << 18;
    private const uint InterceptVmrunBit = 1u << 0;
    private const uint InterceptVmmcallBit = 1u << 1;
    private const ulong Cr0PeEt = 0x11;
    private const ulong Cr0Pg = 1ul << 31;
    private const ulong Cr4Pse = 1ul << 4;
    private const uint Pde4MiBPresentWritable = 0x83; // P | RW | PS
    private const ushort FlatCodeAttrib = 0xC9B; // type 0xB, S, DPL0, P, DB, G
    private const ushort FlatDataAttrib = 0xC93; // type 0x3, S, DPL0, P, DB, G

    /// <summary>
    /// Creates a VM whose vCPU got KVM_SET_CPUID2(<paramref name="table"/>), starts L1 at CPL0 in flat 32-bit protected
    /// mode with EFER.SVME and CR4 = <paramref name="l1Cr4"/> | PSE, and runs it to its final OUT.
    /// </summary>
    /// <param name="kvm">The open /dev/kvm (kvm_amd with nested=1).</param>
    /// <param name="table">The guest CPUID (must offer SVM, CPUID.0x8000_0001:ECX[2], for EFER.SVME).</param>
    /// <param name="l1Cr4">L1's CR4.</param>
    /// <param name="l2Cr4">VMCB12 save.cr4: L2's CR4.</param>
    /// <param name="interceptCpuid">Whether L1 intercepts L2's CPUID.</param>
    public static IoctlResult<SvmRoundTrip> Run(KvmSystem kvm, CpuidTable table, ulong l1Cr4, ulong l2Cr4, bool interceptCpuid)
    {
        switch (kvm.CreateVm())
        {
            case IoctlResult<LiveVm>.Failed(var call, var errno):
                return new IoctlResult<SvmRoundTrip>.Failed(call, errno);
            case IoctlResult<LiveVm>.Ok(var vm):
                using (vm)
                {
                    switch (vm.CreateVcpu())
                    {
                        case IoctlResult<LiveVcpu>.Failed(var call, var errno):
                            return new IoctlResult<SvmRoundTrip>.Failed(call, errno);
                        case IoctlResult<LiveVcpu>.Ok(var vcpu):
                            using (vcpu)
                            {
                                Install(vm.Memory, l2Cr4, interceptCpuid);
                                return SetUp(vcpu, table, l1Cr4) is IoctlResult<int>.Failed(var c, var e)
                                    ? new IoctlResult<SvmRoundTrip>.Failed(c, e)
                                    : RunToDone(vm, vcpu);
                            }
                    }
                    break;
                }
        }
        throw new System.Diagnostics.UnreachableException();
    }

    private static IoctlResult<SvmRoundTrip> RunToDone(LiveVm vm, LiveVcpu vcpu)
    {
        if (vcpu.Run() is not IoctlResult<RunExit>.Ok(var exit))
        {
            return new IoctlResult<SvmRoundTrip>.Failed("KVM_RUN", Libc.Errno);
        }
        if (!exit.IsIo(DonePort))
        {
            return new IoctlResult<SvmRoundTrip>.Failed($"KVM_RUN: L1 did not reach its OUT ({exit})", 0);
        }
        var m = vm.Memory;
        var exitCode = BinaryPrimitives.ReadUInt64LittleEndian(m[(Vmcb12 + ExitCodeOffset)..]);
        return new IoctlResult<SvmRoundTrip>.Ok(new SvmRoundTrip(exitCode, Leaf1(m[Results..]), Leaf1(m[(Results + 16)..])));
    }

    private static CpuidEntry Leaf1(ReadOnlySpan<byte> registers) =>
        new(
            1,
            0,
            CpuidFlags.None,
            BinaryPrimitives.ReadUInt32LittleEndian(registers),
            BinaryPrimitives.ReadUInt32LittleEndian(registers[4..]),
            BinaryPrimitives.ReadUInt32LittleEndian(registers[8..]),
            BinaryPrimitives.ReadUInt32LittleEndian(registers[12..])
        );

    private static IoctlResult<int> SetUp(LiveVcpu vcpu, CpuidTable table, ulong l1Cr4)
    {
        if (vcpu.SetCpuid2(table) is IoctlResult<int>.Failed f)
        {
            return f;
        }
        if (vcpu.SetMsrs([new MsrEntry(Msr.VmHsavePa, HostSave)]) is not IoctlResult<int>.Ok(1))
        {
            return new IoctlResult<int>.Failed("KVM_SET_MSRS(VM_HSAVE_PA)", 0);
        }
        if (vcpu.GetSregs() is not IoctlResult<KvmSregs>.Ok(var s))
        {
            return new IoctlResult<int>.Failed("KVM_GET_SREGS", 0);
        }
        var code = new KvmSegment { Limit = 0xFFFF_FFFF, Selector = 0x08, Type = 0xB, Present = 1, Db = 1, S = 1, G = 1 };
        var data = code with { Selector = 0x10, Type = 0x3 };
        s.Cs = code;
        s.Ds = s.Es = s.Fs = s.Gs = s.Ss = data;
        s.Gdt = new KvmDtable { Base = Gdt, Limit = (3 * 8) - 1 };
        // nested_svm_check_permissions: SVM instructions #UD unless EFER.SVME and paging are on.
        s.Cr0 = Cr0PeEt | Cr0Pg;
        s.Cr3 = PageDirectory;
        s.Cr4 = l1Cr4 | Cr4Pse;
        s.Efer = Efer.Svme;
        if (vcpu.SetSregs(s) is IoctlResult<int>.Failed g)
        {
            return g;
        }
        return vcpu.SetRegs(new KvmRegs { Rip = L1Code, Rsp = StackTop, Rflags = 2 });
    }

    /// <summary>L1, L2, the GDT and VMCB12 in guest memory.</summary>
    private static void Install(Span<byte> memory, ulong l2Cr4, bool interceptCpuid)
    {
        Code.L1.Items.AsSpan().CopyTo(memory[L1Code..]);
        Code.L2.Items.AsSpan().CopyTo(memory[L2Code..]);
        BinaryPrimitives.WriteUInt64LittleEndian(memory[(Gdt + 8)..], GuestLayout.FlatCodeDpl0); // selector 0x08
        BinaryPrimitives.WriteUInt64LittleEndian(memory[(Gdt + 16)..], GuestLayout.FlatDataDpl0); // selector 0x10
        memory.Slice(PageDirectory, 0x1000).Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(memory[PageDirectory..], Pde4MiBPresentWritable); // 0–4 MiB → 0–4 MiB

        var vmcb = memory.Slice(Vmcb12, 0x1000);
        vmcb.Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(vmcb[InterceptMisc1..], interceptCpuid ? InterceptCpuidBit : 0);
        BinaryPrimitives.WriteUInt32LittleEndian(vmcb[InterceptMisc2..], InterceptVmrunBit | InterceptVmmcallBit);
        BinaryPrimitives.WriteUInt64LittleEndian(vmcb[IopmBasePa..], Iopm);
        BinaryPrimitives.WriteUInt64LittleEndian(vmcb[MsrpmBasePa..], Msrpm);
        BinaryPrimitives.WriteUInt32LittleEndian(vmcb[GuestAsid..], 1);
        for (var seg = 0; seg < 4; seg++) // ES, CS, SS, DS
        {
            var at = SaveEs + (0x10 * seg);
            BinaryPrimitives.WriteUInt16LittleEndian(vmcb[at..], seg == 1 ? (ushort)0x08 : (ushort)0x10);
            BinaryPrimitives.WriteUInt16LittleEndian(vmcb[(at + 2)..], seg == 1 ? FlatCodeAttrib : FlatDataAttrib);
            BinaryPrimitives.WriteUInt32LittleEndian(vmcb[(at + 4)..], 0xFFFF_FFFF);
        }
        BinaryPrimitives.WriteUInt32LittleEndian(vmcb[(SaveGdtr + 4)..], (3 * 8) - 1);
        BinaryPrimitives.WriteUInt64LittleEndian(vmcb[(SaveGdtr + 8)..], Gdt);
        BinaryPrimitives.WriteUInt32LittleEndian(vmcb[(SaveIdtr + 4)..], 0);
        BinaryPrimitives.WriteUInt64LittleEndian(vmcb[SaveEfer..], Efer.Svme); // VMRUN requires EFER.SVME in L2's EFER
        BinaryPrimitives.WriteUInt64LittleEndian(vmcb[SaveCr4..], l2Cr4);
        BinaryPrimitives.WriteUInt64LittleEndian(vmcb[SaveCr0..], Cr0PeEt);
        BinaryPrimitives.WriteUInt64LittleEndian(vmcb[SaveDr7..], 0x400);
        BinaryPrimitives.WriteUInt64LittleEndian(vmcb[SaveDr6..], 0xFFFF_0FF0);
        BinaryPrimitives.WriteUInt64LittleEndian(vmcb[SaveRflags..], 2);
        BinaryPrimitives.WriteUInt64LittleEndian(vmcb[SaveRip..], L2Code);
        BinaryPrimitives.WriteUInt64LittleEndian(vmcb[SaveRsp..], StackTop - 0x1000);
        memory.Slice(Results, 32).Fill(0xFF); // so "L2 never wrote" is visible
    }

    /// <summary>The two programs, assembled once (deterministic).</summary>
    private static class Code
    {
        /// <summary>L1: VMRUN VMCB12; after the #VMEXIT, CPUID(1) into the second result slot; OUT; HLT.</summary>
        public static readonly Core.ValueArray<byte> L1 = Assemble(L1Code, a =>
        {
            a.mov(eax, Vmcb12);
            a.vmrun();
            a.mov(eax, 1);
            a.xor(ecx, ecx);
            a.cpuid();
            Store(a, Results + 16);
            a.mov(dx, DonePort);
            a.@out(dx, al);
            a.hlt();
        });

        /// <summary>L2: CPUID(1) into the first result slot, then VMMCALL (intercepted by L1: exit code 0x81).</summary>
        public static readonly Core.ValueArray<byte> L2 = Assemble(L2Code, a =>
        {
            a.mov(eax, 1);
            a.xor(ecx, ecx);
            a.cpuid();
            Store(a, Results);
            a.vmmcall();
            a.hlt();
        });

        private static void Store(Assembler a, int at)
        {
            a.mov(__dword_ptr[at], eax);
            a.mov(__dword_ptr[at + 4], ebx);
            a.mov(__dword_ptr[at + 8], ecx);
            a.mov(__dword_ptr[at + 12], edx);
        }

        private static Core.ValueArray<byte> Assemble(int origin, Action<Assembler> body)
        {
            var a = new Assembler(32);
            body(a);
            using var stream = new MemoryStream();
            a.Assemble(new StreamCodeWriter(stream), (ulong)origin);
            return ImmutableArray.Create(stream.ToArray());
        }
    }
}
