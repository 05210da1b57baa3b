using CpuidFunctional.Interpreter.Machine;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace CpuidFunctional.Interpreter.Harness;

/// <summary>
/// Builds nested programs the way kvm-unit-tests' VMX framework does: one image whose L1 part enables VMX, sets up
/// a VMCS (host state pointing at an exit handler, guest state pointing at L2 code in the same image) and launches
/// L2. Programs are assembled with Iced's <see cref="Assembler"/>. Memory used: the VMXON region, the VMCS, the MSR
/// lists and a pointer slot in <see cref="MachineLayout.DataArea"/>; L2's stack below <see cref="L2StackTop"/>.
/// </summary>
public static class RoundTrip
{
    /// <summary>VMXON region.</summary>
    public const ulong VmxonRegion = MachineLayout.DataArea;

    /// <summary>The VMCS region.</summary>
    public const ulong VmcsRegion = MachineLayout.DataArea + 0x1000;

    /// <summary>VM-entry MSR-load list.</summary>
    public const ulong EntryMsrList = MachineLayout.DataArea + 0x2000;

    /// <summary>VM-exit MSR-load list.</summary>
    public const ulong ExitMsrList = MachineLayout.DataArea + 0x2800;

    /// <summary>A qword the set-up stores region addresses in, for the m64 operands of VMXON/VMCLEAR/VMPTRLD.</summary>
    public const ulong PointerSlot = MachineLayout.DataArea + 0x3000;

    /// <summary>HOST_CS_SELECTOR: a flat 64-bit code segment's selector (GDT index 1, RPL 0), as a real L1 would give.</summary>
    public const ulong HostCsSelector = 0x08;

    /// <summary>HOST_TR_SELECTOR: a TSS selector (GDT index 2, RPL 0); KVM's host-state checks refuse a null one.</summary>
    public const ulong HostTrSelector = 0x10;

    /// <summary>L2's initial RSP.</summary>
    public const ulong L2StackTop = MachineLayout.DataArea + 0xF_0000;

    /// <summary>Port L1's handler reports the final exit reason on before HLT.</summary>
    public const byte ExitReasonPort = 0x80;

    /// <summary>Port the harness reports a failed VMLAUNCH/VMRESUME on (the value is RFLAGS).</summary>
    public const byte VmFailPort = 0xF0;

    /// <summary>
    /// Assembles a round-trip program: L1 set-up and VMLAUNCH, then <paramref name="exitHandler"/> at HOST_RIP (it
    /// runs on every exit and usually ends in VMRESUME) and <paramref name="l2Body"/> at GUEST_RIP.
    /// </summary>
    public static Program Build(RoundTripSetup setup, Action<Assembler> exitHandler, Action<Assembler> l2Body)
    {
        var a = new Assembler(64);
        var handler = a.CreateLabel("exit_handler");
        var l2 = a.CreateLabel("l2");
        EmitSetup(a, setup, handler, l2);
        a.Label(ref handler);
        exitHandler(a);
        a.Label(ref l2);
        l2Body(a);
        return Assemble(a);
    }

    /// <summary>Assembles at <see cref="MachineLayout.LoadAddress"/> into a program.</summary>
    public static Program Assemble(Assembler a)
    {
        using var stream = new MemoryStream();
        a.Assemble(new StreamCodeWriter(stream), MachineLayout.LoadAddress);
        return Program.FromBytes(stream.ToArray()) switch
        {
            Core.Result<Program>.Ok ok => ok.Value,
            Core.Result<Program>.Error e => throw new InvalidOperationException(e.Problem.Message),
            _ => throw new System.Diagnostics.UnreachableException(),
        };
    }

    /// <summary>
    /// L1 set-up: CR4 ← HOST_CR4, optional XSETBV and EFER, the revision identifier into both regions, VMXON, VMCLEAR, VMPTRLD,
    /// the VMCS fields, the MSR lists, the extra fields, VMLAUNCH; a failed VMLAUNCH reports RFLAGS on <see cref="VmFailPort"/> and halts.
    /// </summary>
    public static void EmitSetup(Assembler a, RoundTripSetup s, Label handler, Label l2)
    {
        a.mov(rax, (long)s.HostCr4);
        a.mov(cr4, rax);
        if (s.HostXcr0 != 0)
        {
            a.xor(ecx, ecx);
            a.mov(eax, (uint)s.HostXcr0);
            a.mov(edx, (uint)(s.HostXcr0 >> 32));
            a.xsetbv();
        }
        if (s.HostEfer != 0)
        {
            a.mov(ecx, Msr.Efer);
            a.mov(eax, (uint)s.HostEfer);
            a.mov(edx, (uint)(s.HostEfer >> 32));
            a.wrmsr();
        }
        a.mov(ecx, VmxCapabilities.MsrVmxBasic);
        a.rdmsr();
        a.mov(rdi, (long)VmxonRegion);
        a.mov(__dword_ptr[rdi], eax);
        a.mov(rdi, (long)VmcsRegion);
        a.mov(__dword_ptr[rdi], eax);
        a.mov(rdi, (long)PointerSlot);
        a.mov(rax, (long)VmxonRegion);
        a.mov(__qword_ptr[rdi], rax);
        a.vmxon(__qword_ptr[rdi]);
        a.mov(rax, (long)VmcsRegion);
        a.mov(__qword_ptr[rdi], rax);
        a.vmclear(__qword_ptr[rdi]);
        a.vmptrld(__qword_ptr[rdi]);

        EmitVmwrite(a, VmcsField.PinBasedVmExecControl, VmxCapabilities.PinMust1);
        EmitVmwrite(a, VmcsField.CpuBasedVmExecControl, VmxCapabilities.ProcTrueMust1 | s.ExtraProcControls);
        EmitVmwrite(a, VmcsField.VmExitControls, VmxCapabilities.ExitTrueMust1 | VmxCapabilities.ExitHostAddressSpaceSize);
        EmitVmwrite(a, VmcsField.VmEntryControls, VmxCapabilities.EntryTrueMust1 | VmxCapabilities.EntryIa32eModeGuest);
        EmitVmwrite(a, VmcsField.ExceptionBitmap, s.ExceptionBitmap);
        EmitVmwrite(a, VmcsField.Cr4GuestHostMask, s.Cr4GuestHostMask);
        EmitVmwrite(a, VmcsField.Cr4ReadShadow, s.Cr4ReadShadow);
        EmitVmwrite(a, VmcsField.VmcsLinkPointer, ulong.MaxValue);
        EmitVmwrite(a, VmcsField.HostCr0, MachineLayout.InitialCr0);
        EmitVmwrite(a, VmcsField.HostCr4, s.HostCr4);
        EmitVmwrite(a, VmcsField.GuestCr0, MachineLayout.InitialCr0);
        EmitVmwrite(a, VmcsField.GuestCr4, s.GuestCr4);
        EmitVmwrite(a, VmcsField.GuestRsp, L2StackTop);
        EmitVmwrite(a, VmcsField.GuestRflags, Rflags.Fixed1);
        EmitVmwrite(a, VmcsField.HostCsSelector, HostCsSelector);
        EmitVmwrite(a, VmcsField.HostTrSelector, HostTrSelector);
        a.mov(ebx, VmcsField.HostRsp);
        a.vmwrite(rbx, rsp);
        a.mov(ebx, VmcsField.HostRip);
        a.lea(rax, __[handler]);
        a.vmwrite(rbx, rax);
        a.mov(ebx, VmcsField.GuestRip);
        a.lea(rax, __[l2]);
        a.vmwrite(rbx, rax);
        EmitMsrList(a, s.EntryMsrLoad, EntryMsrList, VmcsField.VmEntryMsrLoadAddr, VmcsField.VmEntryMsrLoadCount);
        EmitMsrList(a, s.ExitMsrLoad, ExitMsrList, VmcsField.VmExitMsrLoadAddr, VmcsField.VmExitMsrLoadCount);
        foreach (var (field, value) in s.ExtraVmwrites)
        {
            EmitVmwrite(a, field, value);
        }
        a.vmlaunch();
        EmitReportVmFailAndHalt(a);
    }

    private static void EmitMsrList(Assembler a, IReadOnlyList<MsrEntry> list, ulong at, uint addrField, uint countField)
    {
        if (list.Count == 0)
        {
            return;
        }
        a.mov(rdi, (long)at);
        for (var n = 0; n < list.Count; n++)
        {
            a.mov(__dword_ptr[rdi + (n * 16)], list[n].Index);
            a.mov(__dword_ptr[rdi + (n * 16) + 4], 0);
            a.mov(rax, (long)list[n].Value);
            a.mov(__qword_ptr[rdi + (n * 16) + 8], rax);
        }
        EmitVmwrite(a, addrField, at);
        EmitVmwrite(a, countField, (ulong)list.Count);
    }

    /// <summary><c>mov ebx, field; mov rax, value; vmwrite rbx, rax</c>.</summary>
    public static void EmitVmwrite(Assembler a, uint field, ulong value)
    {
        a.mov(ebx, field);
        a.mov(rax, (long)value);
        a.vmwrite(rbx, rax);
    }

    /// <summary>RFLAGS out on <see cref="VmFailPort"/>, then HLT (after a VMLAUNCH or VMRESUME that fell through).</summary>
    public static void EmitReportVmFailAndHalt(Assembler a)
    {
        a.pushfq();
        a.pop(rax);
        a.@out(VmFailPort, eax);
        a.hlt();
    }

    /// <summary>
    /// The minimal CPUID exit handler of the seed's experiment, from the exit-reason read on: if the reason is not 10
    /// jump to <paramref name="other"/> (with the reason in EAX); else GUEST_RIP += VM_EXIT_INSTRUCTION_LEN and
    /// VMRESUME. Clobbers RAX, RBX, RCX, RDX.
    /// </summary>
    public static void EmitAdvanceOnCpuidAndResume(Assembler a, Label other)
    {
        a.mov(ebx, VmcsField.VmExitReason);
        a.vmread(rax, rbx);
        a.cmp(eax, (int)ExitReason.Cpuid);
        a.jne(other);
        EmitSkipInstructionAndResume(a);
    }

    /// <summary>GUEST_RIP += VM_EXIT_INSTRUCTION_LEN, then VMRESUME (a failure reports and halts). Clobbers RBX, RCX, RDX.</summary>
    public static void EmitSkipInstructionAndResume(Assembler a)
    {
        a.mov(ebx, VmcsField.VmExitInstructionLen);
        a.vmread(rcx, rbx);
        a.mov(ebx, VmcsField.GuestRip);
        a.vmread(rdx, rbx);
        a.add(rdx, rcx);
        a.vmwrite(rbx, rdx);
        a.vmresume();
        EmitReportVmFailAndHalt(a);
    }

    /// <summary>Reports EAX (the exit reason) on <see cref="ExitReasonPort"/>, then L1's own CPUID.1 ECX on port 0x81, then HLT.</summary>
    public static void EmitReportAndHalt(Assembler a)
    {
        a.@out(ExitReasonPort, eax);
        a.mov(eax, 1);
        a.xor(ecx, ecx);
        a.cpuid();
        a.mov(eax, ecx);
        a.@out(0x81, eax);
        a.hlt();
    }
}
