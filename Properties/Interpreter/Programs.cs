using CpuidFunctional.Interpreter.Machine;
using CpuidFunctional.Interpreter.Svm;
using CpuidFunctional.Interpreter.Vmx;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace CpuidFunctional.Properties.Interpreter;

/// <summary>The example programs built with Iced (the NASM sources in Properties/Programs are the same programs).</summary>
internal static class Programs
{
    /// <summary>L1 enables OSXSAVE and PKE, sets XCR0 = x87|SSE|AVX|PKRU, reads CPUID 1, 7 and 0xD and reports ECX/EBX.</summary>
    public static Program L1OsxsavePkeXsetbv()
    {
        var a = new Assembler(64);
        a.mov(rax, cr4);
        a.or(rax, (int)(Cr4.OsXsave | Cr4.Pke));
        a.mov(cr4, rax);
        a.xor(ecx, ecx);
        a.mov(eax, 0x207);
        a.xor(edx, edx);
        a.xsetbv();
        a.mov(eax, 1);
        a.xor(ecx, ecx);
        a.cpuid();
        a.mov(eax, ecx);
        a.@out(0x81, eax);
        a.mov(eax, 7);
        a.xor(ecx, ecx);
        a.cpuid();
        a.mov(eax, ecx);
        a.@out(0x87, eax);
        a.mov(eax, 0xD);
        a.xor(ecx, ecx);
        a.cpuid();
        a.mov(eax, ebx);
        a.@out(0x8D, eax);
        a.hlt();
        return RoundTrip.Assemble(a);
    }

    /// <summary>
    /// kvm-unit-tests' vmx_cr4_osxsave: L1 runs with OSXSAVE, L2 clears CR4.OSXSAVE (L1 does not own it, so L0
    /// applies it) and VMCALLs; L1 then reports its own CPUID.1:ECX on port 0x81 (OSXSAVE must be 1 again).
    /// </summary>
    public static Program VmxCr4Osxsave()
    {
        var setup = new RoundTripSetup { GuestCr4 = MachineLayout.InitialCr4 | Cr4.Vmxe | Cr4.OsXsave };
        return RoundTrip.Build(
            setup,
            ReportExitReasonAndCpuid,
            a =>
            {
                a.mov(rax, cr4);
                a.btr(rax, 18);
                a.mov(cr4, rax);
                a.vmcall();
            }
        );
    }

    /// <summary>
    /// The vmx_cr4_osxsave variant whose only CR4 changes are the nested loads: L1 runs with OSXSAVE, vmcs12's
    /// GUEST_CR4 lacks it and L2 writes no CR4, it only VMCALLs; L1 reports its CPUID.1:ECX on port 0x81 (OSXSAVE must
    /// be 1). With L2 writing nothing, a stale OSXSAVE in L1 can only come from the VM exit's HOST_CR4 load.
    /// </summary>
    public static Program VmxCr4OsxsaveByEntry() =>
        RoundTrip.Build(new RoundTripSetup { HostCr4 = MachineLayout.InitialCr4 | Cr4.Vmxe | Cr4.OsXsave }, ReportExitReasonAndCpuid, a => a.vmcall());

    /// <summary>
    /// kvm-unit-tests' svm_cr4_osxsave_test in our words (svm-cr4-osxsave.asm): L1 runs with OSXSAVE and gives vmcb12
    /// the same CR4, reports its CPUID.1:ECX on port 0x83 and VMRUNs; L2 clears CR4.OSXSAVE (L1 does not intercept CR4
    /// writes, so L0 takes it) and VMMCALLs; L1 reports the exit code (port 0x80) and its CPUID.1:ECX (port 0x81).
    /// </summary>
    public static Program SvmCr4Osxsave()
    {
        const ulong both = MachineLayout.InitialCr4 | Cr4.OsXsave | Cr4.Pke;
        var a = new Assembler(64);
        var l2 = a.CreateLabel("l2");
        SvmHarness.EmitSetup(a, both, both, 0, Vmcb12.InterceptVmmcall, l2);
        EmitReportCpuid(a, 1, ecx, 0x83);
        SvmHarness.EmitVmrun(a);
        SvmHarness.EmitReadExitCode(a);
        RoundTrip.EmitReportAndHalt(a);
        a.Label(ref l2);
        a.mov(rax, cr4);
        a.btr(rax, 18);
        a.mov(cr4, rax);
        a.vmmcall();
        return RoundTrip.Assemble(a);
    }

    /// <summary>
    /// svm-l1-toggle.asm: before each of four VMRUNs L1 flips OSXSAVE and PKE in its own CR4 and in vmcb12's save.cr4
    /// (L1 starts without them, L2 with them), so every VMRUN and #VMEXIT changes them through svm_set_cr4. L2 (CPUID
    /// not intercepted) reports CPUID.1:ECX on port 0x82 and CPUID.7.0:ECX on 0x87, then VMMCALLs; L1 reports its
    /// CPUID.1:ECX before each VMRUN (0x83) and after each #VMEXIT (0x81), its CPUID.7.0:ECX after it (0x88), and at
    /// the end the exit code (0x80).
    /// </summary>
    public static Program SvmL1Toggle()
    {
        const int bits = (int)(Cr4.OsXsave | Cr4.Pke);
        var a = new Assembler(64);
        var l2 = a.CreateLabel("l2");
        var round = a.CreateLabel("round");
        SvmHarness.EmitSetup(a, MachineLayout.InitialCr4, MachineLayout.InitialCr4 | Cr4.OsXsave | Cr4.Pke, 0, Vmcb12.InterceptVmmcall, l2);
        a.mov(r13d, 4);
        a.Label(ref round);
        a.mov(rax, cr4);
        a.xor(eax, bits);
        a.mov(cr4, rax);
        EmitReportCpuid(a, 1, ecx, 0x83);
        a.mov(rdi, (long)SvmHarness.Vmcb);
        a.mov(rdx, __qword_ptr[rdi + Vmcb12.Cr4Offset]);
        a.xor(edx, bits);
        a.mov(__qword_ptr[rdi + Vmcb12.Cr4Offset], rdx);
        a.lea(rax, __[l2]);
        a.mov(__qword_ptr[rdi + Vmcb12.RipOffset], rax);
        SvmHarness.EmitVmrun(a);
        EmitReportCpuid(a, 1, ecx, 0x81);
        EmitReportCpuid(a, 7, ecx, 0x88);
        a.dec(r13d);
        a.jne(round);
        SvmHarness.EmitReadExitCode(a);
        a.@out(0x80, eax);
        a.hlt();
        a.Label(ref l2);
        EmitReportCpuid(a, 1, ecx, 0x82);
        EmitReportCpuid(a, 7, ecx, 0x87);
        a.vmmcall();
        return RoundTrip.Assemble(a);
    }

    /// <summary>CPUID <paramref name="leaf"/>.0, then <paramref name="register"/> out on <paramref name="port"/> (through EAX).</summary>
    private static void EmitReportCpuid(Assembler a, int leaf, AssemblerRegister32 register, byte port)
    {
        a.mov(eax, leaf);
        a.xor(ecx, ecx);
        a.cpuid();
        a.mov(eax, register);
        a.@out(port, eax);
    }

    /// <summary>The exit handler of both: the exit reason on port 0x80, then L1's CPUID.1:ECX on port 0x81, then HLT.</summary>
    private static void ReportExitReasonAndCpuid(Assembler a)
    {
        a.mov(ebx, VmcsField.VmExitReason);
        a.vmread(rax, rbx);
        RoundTrip.EmitReportAndHalt(a);
    }
}
