using CpuidFunctional.Interpreter.Machine;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace CpuidFunctional.Interpreter.Harness;

/// <summary>
/// The nested SVM harness the way kvm-unit-tests' x86/svm.c sets it up, built with Iced's <see cref="Assembler"/> (the
/// NASM twin is Properties/Programs/svm-harness.inc, byte for byte): L1 sets EFER.SVME and VM_HSAVE_PA, fills a
/// vmcb12 at <see cref="Vmcb"/> whose save area starts a 64-bit L2, and VMRUNs; after the #VMEXIT L1 continues at the
/// instruction after VMRUN. Only AMD (or Hygon) guests with SVM in CPUID 0x80000001:ECX can run it.
/// </summary>
public static class SvmHarness
{
    /// <summary>The vmcb12 page.</summary>
    public const ulong Vmcb = MachineLayout.DataArea;

    /// <summary>The host save area (VM_HSAVE_PA).</summary>
    public const ulong Hsave = MachineLayout.DataArea + 0x1000;

    /// <summary>L2's initial RSP.</summary>
    public const ulong L2StackTop = MachineLayout.DataArea + 0xF_0000;

    /// <summary>save.efer: LME, LMA and SVME.</summary>
    private const ulong L2Efer = 0x1500;

    /// <summary>
    /// SVM_SETUP: L1's CR4, EFER.SVME, VM_HSAVE_PA, and vmcb12 (intercept words 3 and 4, VMRUN always added; ASID 1;
    /// save.efer LME|LMA|SVME, save.cr4, CR0, RFLAGS 2, RIP = <paramref name="l2"/>, RSP). Leaves RDI = vmcb12.
    /// </summary>
    public static void EmitSetup(Assembler a, ulong l1Cr4, ulong l2Cr4, uint word3, uint word4, Label l2)
    {
        a.mov(rax, (long)l1Cr4);
        a.mov(cr4, rax);
        a.mov(ecx, Msr.Efer);
        a.rdmsr();
        a.bts(eax, 12);
        a.wrmsr();
        a.mov(ecx, Msr.VmHsavePa);
        a.mov(eax, (uint)Hsave);
        a.xor(edx, edx);
        a.wrmsr();
        a.mov(rdi, (long)Vmcb);
        a.mov(__dword_ptr[rdi + Vmcb12.Word3Offset], word3);
        a.mov(__dword_ptr[rdi + Vmcb12.Word4Offset], word4 | Vmcb12.InterceptVmrun);
        a.mov(__dword_ptr[rdi + Vmcb12.AsidOffset], 1);
        EmitStore(a, Vmcb12.EferOffset, L2Efer);
        EmitStore(a, Vmcb12.Cr4Offset, l2Cr4);
        EmitStore(a, Vmcb12.Cr0Offset, MachineLayout.InitialCr0);
        EmitStore(a, Vmcb12.RflagsOffset, Rflags.Fixed1);
        a.lea(rax, __[l2]);
        a.mov(__qword_ptr[rdi + Vmcb12.RipOffset], rax);
        EmitStore(a, Vmcb12.RspOffset, L2StackTop);
    }

    /// <summary>
    /// A VMRUN loop in the shape of kvm-unit-tests' svm.c tests: SVM_SETUP from <paramref name="setup"/> (with its CR
    /// intercepts), then each round <paramref name="beforeVmrun"/> and VMRUN_VMCB. A #VMEXIT for VMMCALL or SHUTDOWN,
    /// or a failed VMRUN (VMEXIT_INVALID), ends the loop: L1 reports the exit code on port 0x80 and its CPUID.1:ECX on
    /// 0x81 and halts. Any other exit skips the L2 instruction (SKIP_L2_INSTRUCTION), runs <paramref name="onExit"/>
    /// and goes round again. L2 starts at <paramref name="l2Body"/>.
    /// </summary>
    public static Program BuildLoop(SvmLoopSetup setup, Action<Assembler> beforeVmrun, Action<Assembler> onExit, Action<Assembler> l2Body)
    {
        var a = new Assembler(64);
        var l2 = a.CreateLabel("l2");
        var run = a.CreateLabel("run");
        var done = a.CreateLabel("done");
        EmitSetup(a, setup.L1Cr4, setup.L2Cr4, setup.Word3, setup.Word4, l2);
        a.mov(__dword_ptr[rdi + Vmcb12.CrInterceptsOffset], setup.CrIntercepts);
        a.Label(ref run);
        beforeVmrun(a);
        EmitVmrun(a);
        EmitReadExitCode(a);
        a.cmp(eax, (int)SvmExitCode.Vmmcall);
        a.je(done);
        a.cmp(eax, (int)SvmExitCode.Shutdown);
        a.je(done);
        a.test(eax, eax);
        a.js(done);
        EmitSkipL2Instruction(a);
        onExit(a);
        a.jmp(run);
        a.Label(ref done);
        RoundTrip.EmitReportAndHalt(a);
        a.Label(ref l2);
        l2Body(a);
        return RoundTrip.Assemble(a);
    }

    /// <summary>VMRUN_VMCB: RAX = vmcb12, VMRUN.</summary>
    public static void EmitVmrun(Assembler a)
    {
        a.mov(rax, (long)Vmcb);
        a.vmrun();
    }

    /// <summary>READ_EXIT_CODE: RDI = vmcb12, EAX = its exit code (L1, after a #VMEXIT).</summary>
    public static void EmitReadExitCode(Assembler a)
    {
        a.mov(rdi, (long)Vmcb);
        a.mov(eax, __dword_ptr[rdi + Vmcb12.ExitCodeOffset]);
    }

    /// <summary>SKIP_L2_INSTRUCTION: save.rip = next_rip, so the next VMRUN resumes L2 after the intercepted instruction (RDI = vmcb12).</summary>
    public static void EmitSkipL2Instruction(Assembler a)
    {
        a.mov(rdx, __qword_ptr[rdi + Vmcb12.NextRipOffset]);
        a.mov(__qword_ptr[rdi + Vmcb12.RipOffset], rdx);
    }

    /// <summary>A qword of vmcb12 (RDI) ← <paramref name="value"/>, through RAX.</summary>
    private static void EmitStore(Assembler a, int offset, ulong value)
    {
        a.mov(rax, (long)value);
        a.mov(__qword_ptr[rdi + offset], rax);
    }
}
