using CpuidFunctional.Interpreter.Machine;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace CpuidFunctional.Properties.Interpreter;

/// <summary>
/// An AMD guest for the nested SVM programs (vendor AuthenticAMD, SVM in 0x80000001:ECX, XSAVE, PKU) under the 6.1
/// profile, and the Iced build of the SVM harness the NASM programs include (Properties/Programs/svm-harness.inc):
/// EFER.SVME, VM_HSAVE_PA, a vmcb12 at <see cref="Vmcb"/> starting a 64-bit L2.
/// </summary>
internal static class SvmMachine
{
    public const ulong Vmcb = 0x10_0000;
    public const ulong Hsave = 0x10_1000;
    public const ulong L2StackTop = 0x1F_0000;

    public static CpuidTable Table { get; } = CpuidTable.Of(
        CpuidEntry.Plain(0, 0xD, Vendor.Amd.Ebx, Vendor.Amd.Ecx, Vendor.Amd.Edx),
        CpuidEntry.Plain(1, 0xA10F11, 0x0010_0800, (1u << 0) | (1u << 26), (1u << 0) | (1u << 9) | (1u << 25) | (1u << 26)),
        CpuidEntry.Indexed(7, 0, 0, (1u << 7) | (1u << 20), 1u << 3, 0), // SMEP, SMAP; PKU
        CpuidEntry.Indexed(0xD, 0, 0x207, 0x240, 0xA88, 0),
        CpuidEntry.Indexed(0xD, 1, 0xF, 0x240, 0, 0),
        CpuidEntry.Indexed(0xD, 2, 0x100, 0x240, 0, 0),
        CpuidEntry.Indexed(0xD, 9, 0x8, 0xA80, 0, 0),
        CpuidEntry.Plain(0x8000_0000, 0x8000_0008, Vendor.Amd.Ebx, Vendor.Amd.Ecx, Vendor.Amd.Edx),
        CpuidEntry.Plain(0x8000_0001, 0, 0, 1u << 2, 0), // SVM
        CpuidEntry.Plain(0x8000_0008, 0x3030, 0, 0, 0)
    );

    public static Vm Vm { get; } = new(HostCpu.FromCpuid("test-zen", Table), KernelProfile.Linux6_1);

    public static Machine Boot(Program program, Policy policy) => Machine.Boot(program, KvmState.WithCpuid(Vm, policy, Table));

    /// <summary>Runs under Eager, Lazy and Reference, asserts they agree, returns the Eager run.</summary>
    public static RunResult RunAgreeing(Program program, long maxSteps = TestMachine.DefaultSteps)
    {
        var agreement = Runner.RunAll(Policy.Correct, p => Boot(program, p), maxSteps);
        Assert.True(agreement.Agree, agreement.FirstDifference);
        return agreement.Runs[0].Result;
    }

    /// <summary>
    /// SVM_SETUP of svm-harness.inc: L1's CR4, EFER.SVME, VM_HSAVE_PA, and vmcb12 (intercept words 3 and 4, VMRUN always
    /// added; ASID 1; save.efer LME|LMA|SVME, save.cr4, CR0, RFLAGS 2, RIP = <paramref name="l2"/>, RSP).
    /// </summary>
    public static void EmitSetup(Assembler a, ulong l1Cr4, ulong l2Cr4, uint word3, uint word4, Label l2)
    {
        a.mov(rax, (long)l1Cr4);
        a.mov(cr4, rax);
        a.mov(ecx, 0xC000_0080);
        a.rdmsr();
        a.bts(eax, 12);
        a.wrmsr();
        a.mov(ecx, 0xC001_0117);
        a.mov(eax, (uint)Hsave);
        a.xor(edx, edx);
        a.wrmsr();
        a.mov(rdi, (long)Vmcb);
        a.mov(__dword_ptr[rdi + 0x0C], word3);
        a.mov(__dword_ptr[rdi + 0x10], word4 | 1);
        a.mov(__dword_ptr[rdi + 0x58], 1);
        Store(a, 0x4D0, 0x1500);
        Store(a, 0x548, l2Cr4);
        Store(a, 0x558, MachineLayout.InitialCr0);
        Store(a, 0x570, 2);
        a.lea(rax, __[l2]);
        a.mov(__qword_ptr[rdi + 0x578], rax);
        Store(a, 0x5D8, L2StackTop);
    }

    /// <summary>VMRUN_VMCB: RAX = vmcb12, VMRUN.</summary>
    public static void EmitVmrun(Assembler a)
    {
        a.mov(rax, (long)Vmcb);
        a.vmrun();
    }

    private static void Store(Assembler a, int offset, ulong value)
    {
        a.mov(rax, (long)value);
        a.mov(__qword_ptr[rdi + offset], rax);
    }
}
