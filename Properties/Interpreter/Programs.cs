using CpuidFunctional.Interpreter.Machine;
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

    /// <summary>The exit handler of both: the exit reason on port 0x80, then L1's CPUID.1:ECX on port 0x81, then HLT.</summary>
    private static void ReportExitReasonAndCpuid(Assembler a)
    {
        a.mov(ebx, VmcsField.VmExitReason);
        a.vmread(rax, rbx);
        RoundTrip.EmitReportAndHalt(a);
    }
}
