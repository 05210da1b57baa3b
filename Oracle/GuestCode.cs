using System.Collections.Immutable;
using CpuidFunctional.Core;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace CpuidFunctional.Oracle;

/// <summary>
/// The guest programs, assembled with Iced. Under PVM real-mode code is run by KVM's instruction emulator, so
/// every CPUID, MOV CR4, XSETBV, WRMSR and RDMSR goes through KVM's common code (<c>em_cpuid</c> →
/// <c>kvm_cpuid</c>, <c>em_xsetbv</c> → <c>__kvm_set_xcr</c>, ...). XGETBV is not used: the emulator lacks it.
/// </summary>
public static class GuestCode
{
    private const int Vectors = 32;

    /// <summary>Vectors whose exceptions push an error code in protected mode (#DF, #TS, #NP, #SS, #GP, #PF, #AC).</summary>
    private static bool HasErrorCode(int vector) => vector is 8 or 10 or 11 or 12 or 13 or 14 or 17;

    /// <summary>Assembles both programs.</summary>
    public static GuestImage Assemble()
    {
        var (real, realEntry, realStubs) = RealMode();
        var (prot, protEntry, protStubs) = ProtectedMode();
        return new GuestImage(real, realEntry, realStubs, prot, protEntry, protStubs);
    }

    /// <summary>
    /// The real-mode interpreter (CPL0): set up segments and stack, then forever: dispatch on the command's op,
    /// execute it, mark it done, OUT to <see cref="GuestLayout.DonePort"/>. Exception stub n records n + 1 and
    /// the faulting IP, resets the stack and joins "done", so a fault ends the command instead of the run.
    /// </summary>
    private static (ValueArray<byte>, ulong, ValueArray<ulong>) RealMode()
    {
        var a = new Assembler(16);
        var loop = a.CreateLabel();
        var done = a.CreateLabel();
        var cpuid = a.CreateLabel();
        var movCr4 = a.CreateLabel();
        var xsetbv = a.CreateLabel();
        var wrmsr = a.CreateLabel();
        var rdmsr = a.CreateLabel();
        var rsm = a.CreateLabel();
        var monitorMwait = a.CreateLabel();
        var fault = a.CreateLabel();
        var stubs = new Label[Vectors];

        a.cli();
        a.xor(ax, ax);
        a.mov(ds, ax);
        a.mov(es, ax);
        a.mov(ss, ax);
        a.mov(sp, (ushort)GuestLayout.RealModeStackTop);
        a.Label(ref loop);
        a.mov(si, (ushort)GuestLayout.Command);
        a.mov(eax, __dword_ptr[si + GuestLayout.OpOffset]);
        a.cmp(eax, (int)GuestOp.Cpuid);
        a.je(cpuid);
        a.cmp(eax, (int)GuestOp.MovToCr4);
        a.je(movCr4);
        a.cmp(eax, (int)GuestOp.Xsetbv);
        a.je(xsetbv);
        a.cmp(eax, (int)GuestOp.Wrmsr);
        a.je(wrmsr);
        a.cmp(eax, (int)GuestOp.Rdmsr);
        a.je(rdmsr);
        a.cmp(eax, (int)GuestOp.Rsm);
        a.je(rsm);
        a.cmp(eax, (int)GuestOp.MonitorMwait);
        a.je(monitorMwait);
        a.Label(ref done); // GuestOp.Nop falls through to here
        a.mov(__dword_ptr[si + GuestLayout.DoneOffset], 1);
        a.mov(dx, GuestLayout.DonePort);
        a.@out(dx, al); // KVM_EXIT_IO: the host reads the record, writes the next one and runs again
        a.jmp(loop);

        a.Label(ref cpuid);
        a.mov(eax, __dword_ptr[si + GuestLayout.AOffset]);
        a.mov(ecx, __dword_ptr[si + GuestLayout.BOffset]);
        a.cpuid();
        StoreResults16(a);
        a.jmp(done);

        a.Label(ref movCr4);
        a.mov(eax, __dword_ptr[si + GuestLayout.AOffset]);
        a.mov(cr4, eax);
        a.mov(eax, cr4);
        a.mov(__dword_ptr[si + GuestLayout.ResultOffset], eax);
        a.jmp(done);

        a.Label(ref xsetbv);
        LoadEdxEaxEcx16(a);
        a.xsetbv();
        a.jmp(done);

        a.Label(ref wrmsr);
        LoadEdxEaxEcx16(a);
        a.wrmsr();
        a.jmp(done);

        a.Label(ref rdmsr);
        a.mov(ecx, __dword_ptr[si + GuestLayout.COffset]);
        a.rdmsr();
        a.mov(__dword_ptr[si + GuestLayout.ResultOffset], eax);
        a.mov(__dword_ptr[si + GuestLayout.ResultOffset + 12], edx);
        a.jmp(done);

        // In SMM, RSM resumes the interpreter the SMI interrupted (after its OUT, or at its loop): it must find Nop
        // and end this command. Outside SMM RSM is #UD (em_rsm) and the stub ends the command.
        a.Label(ref rsm);
        a.mov(__dword_ptr[si + GuestLayout.OpOffset], (int)GuestOp.Nop);
        a.rsm();
        a.jmp(done);

        a.Label(ref monitorMwait);
        MonitorThenMwait(a, GuestLayout.Command);
        a.jmp(done);

        for (var n = 0; n < Vectors; n++)
        {
            stubs[n] = a.CreateLabel();
            a.Label(ref stubs[n]);
            a.mov(__word_ptr[si + GuestLayout.FaultOffset], (ushort)(n + 1));
            a.jmp(fault);
        }
        // Real mode pushes FLAGS, CS, IP and no error code: IP is on top.
        a.Label(ref fault);
        a.pop(ax);
        a.mov(__word_ptr[si + GuestLayout.FaultIpOffset], ax);
        a.mov(sp, (ushort)GuestLayout.RealModeStackTop);
        a.jmp(done);

        return Encode(a, GuestLayout.RealModeCode, stubs, entry: null);
    }

    /// <summary>
    /// The CPL3 interpreter (flat 32-bit protected mode): only CPUID and RSM (never in SMM here, so always #UD), each
    /// command ending in an OUT to <see cref="GuestLayout.DonePort"/> (IOPL 3 allows it). A ring-0 handler records
    /// the vector and the faulting EIP, marks the command done and ends it with an OUT to
    /// <see cref="GuestLayout.FaultPort"/>; it never returns to CPL3 by IRET (KVM's emulator lacks protected-mode
    /// IRET: v1252 probe fault12), the host re-enters CPL3.
    /// </summary>
    private static (ValueArray<byte>, ulong, ValueArray<ulong>) ProtectedMode()
    {
        var a = new Assembler(32);
        var loop = a.CreateLabel();
        var done = a.CreateLabel();
        var rsm = a.CreateLabel();
        var monitorMwait = a.CreateLabel();
        var fault = a.CreateLabel();
        var stubs = new Label[Vectors];
        const int cmd = GuestLayout.Command;

        a.Label(ref loop);
        a.mov(eax, __dword_ptr[cmd + GuestLayout.OpOffset]);
        a.cmp(eax, (int)GuestOp.Rsm);
        a.je(rsm);
        a.cmp(eax, (int)GuestOp.MonitorMwait);
        a.je(monitorMwait);
        a.cmp(eax, (int)GuestOp.Cpuid);
        a.jne(done);
        a.mov(eax, __dword_ptr[cmd + GuestLayout.AOffset]);
        a.mov(ecx, __dword_ptr[cmd + GuestLayout.BOffset]);
        a.cpuid(); // #GP here when CPUID faulting is on
        a.mov(__dword_ptr[cmd + GuestLayout.ResultOffset], eax);
        a.mov(__dword_ptr[cmd + GuestLayout.ResultOffset + 4], ebx);
        a.mov(__dword_ptr[cmd + GuestLayout.ResultOffset + 8], ecx);
        a.mov(__dword_ptr[cmd + GuestLayout.ResultOffset + 12], edx);
        a.Label(ref done);
        a.mov(__dword_ptr[cmd + GuestLayout.DoneOffset], 1);
        a.mov(dx, GuestLayout.DonePort);
        a.@out(dx, al);
        a.jmp(loop);

        // SMM runs the real-mode interpreter, so this RSM is always outside SMM: #UD, ended by the ring-0 handler.
        a.Label(ref rsm);
        a.rsm();
        a.jmp(done);

        // At CPL3 MONITOR is #UD, ended by the ring-0 handler.
        a.Label(ref monitorMwait);
        MonitorThenMwait(a, cmd);
        a.jmp(done);

        for (var n = 0; n < Vectors; n++)
        {
            stubs[n] = a.CreateLabel();
            a.Label(ref stubs[n]);
            if (HasErrorCode(n))
            {
                a.add(esp, 4);
            }
            a.mov(__word_ptr[cmd + GuestLayout.FaultOffset], (ushort)(n + 1));
            a.jmp(fault);
        }
        // Ring-0 stack now: EIP, CS, EFLAGS, ESP, SS of the interrupted CPL3 code.
        a.Label(ref fault);
        a.mov(eax, __dword_ptr[esp]);
        a.mov(__word_ptr[cmd + GuestLayout.FaultIpOffset], ax);
        a.mov(__dword_ptr[cmd + GuestLayout.DoneOffset], 1);
        a.mov(dx, GuestLayout.FaultPort);
        a.@out(dx, al); // the host re-enters CPL3 at the loop; this handler is never resumed
        a.hlt();

        return Encode(a, GuestLayout.ProtectedModeCode, stubs, entry: loop);
    }

    /// <summary>
    /// The SMM entry stub, to be copied to <see cref="GuestLayout.SmmEntry"/>. <c>enter_smm</c> starts the vCPU there
    /// (CS base SMBASE, IP <see cref="GuestLayout.SmmEntryOffset"/>, 16-bit, DS base 0) with the IDT limit zeroed
    /// ("Undocumented: IDT limit is set to zero on entry to SMM"), so the stub reloads the real-mode IDTR from
    /// <see cref="GuestLayout.RealModeIdtr"/> (an exception in SMM then reaches the real-mode stubs instead of
    /// triple-faulting) and far-jumps to 0000:<paramref name="realModeEntry"/>: the real-mode interpreter serves the
    /// commands in SMM, whichever interpreter the SMI interrupted; RSM restores that one from the state-save area.
    /// </summary>
    public static ValueArray<byte> SmmEntryStub(ulong realModeEntry)
    {
        var a = new Assembler(16);
        a.lidt(__[GuestLayout.RealModeIdtr]);
        a.jmp(0, (uint)realModeEntry);
        using var stream = new MemoryStream();
        a.Assemble(new StreamCodeWriter(stream), GuestLayout.SmmEntryOffset);
        return ImmutableArray.Create(stream.ToArray());
    }

    /// <summary>
    /// The code at the reset vector, for a vCPU that takes an INIT while the guest runs: an OUT to
    /// <see cref="GuestLayout.ResetVectorPort"/>, again and again (the host never resumes it: it puts the vCPU back in
    /// the real-mode interpreter with KVM_SET_SREGS/KVM_SET_REGS).
    /// </summary>
    public static ValueArray<byte> ResetVectorStub()
    {
        var a = new Assembler(16);
        var report = a.CreateLabel();
        a.Label(ref report);
        a.mov(dx, GuestLayout.ResetVectorPort);
        a.@out(dx, al);
        a.jmp(report);
        using var stream = new MemoryStream();
        a.Assemble(new StreamCodeWriter(stream), GuestLayout.ResetVectorOffset);
        return ImmutableArray.Create(stream.ToArray());
    }

    private static void StoreResults16(Assembler a)
    {
        a.mov(__dword_ptr[si + GuestLayout.ResultOffset], eax);
        a.mov(__dword_ptr[si + GuestLayout.ResultOffset + 4], ebx);
        a.mov(__dword_ptr[si + GuestLayout.ResultOffset + 8], ecx);
        a.mov(__dword_ptr[si + GuestLayout.ResultOffset + 12], edx);
    }

    /// <summary>
    /// MONITOR on DS:<paramref name="address"/> (MONITOR reads AX in 16-bit code, EAX in 32-bit code: EAX holds it
    /// for both) with no extensions or hints, then MWAIT asking for C1 with no extensions.
    /// </summary>
    private static void MonitorThenMwait(Assembler a, int address)
    {
        a.mov(eax, address);
        a.xor(ecx, ecx);
        a.xor(edx, edx);
        a.monitor();
        a.xor(eax, eax);
        a.mwait();
    }

    private static void LoadEdxEaxEcx16(Assembler a)
    {
        a.mov(eax, __dword_ptr[si + GuestLayout.AOffset]);
        a.mov(edx, __dword_ptr[si + GuestLayout.BOffset]);
        a.mov(ecx, __dword_ptr[si + GuestLayout.COffset]);
    }

    private static (ValueArray<byte>, ulong, ValueArray<ulong>) Encode(Assembler a, int origin, Label[] stubs, Label? entry)
    {
        using var stream = new MemoryStream();
        var result = a.Assemble(new StreamCodeWriter(stream), (ulong)origin, BlockEncoderOptions.ReturnNewInstructionOffsets);
        var addresses = ImmutableArray.CreateBuilder<ulong>(stubs.Length);
        for (var n = 0; n < stubs.Length; n++)
        {
            addresses.Add(result.GetLabelRIP(stubs[n]));
        }
        var start = entry is { } e ? result.GetLabelRIP(e) : (ulong)origin;
        return (ImmutableArray.Create(stream.ToArray()), start, addresses.MoveToImmutable());
    }
}
