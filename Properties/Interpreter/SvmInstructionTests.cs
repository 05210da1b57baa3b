using CpuidFunctional.Interpreter.Machine;
using CpuidFunctional.Interpreter.Svm;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace CpuidFunctional.Properties.Interpreter;

/// <summary>
/// The SVM instructions, checks and #VMEXIT codes one at a time, on the AMD guest: what fails before VMRUN, what makes
/// vmcb12 invalid (VMEXIT_INVALID, L1 continues), and which L2 instructions exit to L1 with which code. Every program
/// ends with L1 reporting vmcb12's exit code on port 0x80.
/// </summary>
public class SvmInstructionTests
{
    private const ulong L1Cr4 = MachineLayout.InitialCr4 | Cr4.OsXsave;

    /// <summary>L1 sets up (then <paramref name="tweak"/> with RDI = vmcb12), VMRUNs, reports the exit code and halts; L2 runs <paramref name="l2"/>.</summary>
    private static RunResult Run(Action<Assembler> l2, uint word3 = 0, uint word4 = 2, Action<Assembler>? tweak = null, ulong l2Cr4 = L1Cr4) =>
        SvmMachine.RunAgreeing(Build(l2, word3, word4, tweak, l2Cr4));

    /// <summary>The program <see cref="Run"/> runs.</summary>
    private static Program Build(Action<Assembler> l2, uint word3 = 0, uint word4 = 2, Action<Assembler>? tweak = null, ulong l2Cr4 = L1Cr4)
    {
        var a = new Assembler(64);
        var l2Label = a.CreateLabel();
        SvmHarness.EmitSetup(a, L1Cr4, l2Cr4, word3, word4, l2Label);
        tweak?.Invoke(a);
        SvmHarness.EmitVmrun(a);
        a.mov(rdi, (long)SvmHarness.Vmcb);
        a.mov(eax, __dword_ptr[rdi + 0x70]);
        a.@out(0x80, eax);
        a.hlt();
        a.Label(ref l2Label);
        l2(a);
        a.vmmcall();
        return RoundTrip.Assemble(a);
    }

    private static ulong ExitCode(RunResult r)
    {
        Assert.True(r.Stop is StopReason.Halted, TestMachine.Describe(r));
        return r.Outputs.Single(o => o.Port == 0x80).Value;
    }

    private static ulong Vmcb(RunResult r, int offset) => r.Final.Memory.Read(SvmHarness.Vmcb + (ulong)offset, 8);

    /// <summary>
    /// <c>nested_vmcb02_prepare_save</c> loads save.rflags with the always-one bit 1 set (X86_EFLAGS_FIXED): L2 reads
    /// 0x2 for a save.rflags of 0, and the #VMEXIT stores that back.
    /// </summary>
    [Fact]
    public void VMRUN_sets_RFLAGS_bit_1_for_L2_even_if_save_rflags_lacks_it()
    {
        var r = Run(a =>
        {
            a.pushfq();
            a.pop(rbx);
        }, tweak: a => a.mov(__qword_ptr[rdi + Vmcb12.RflagsOffset], 0));
        Assert.Equal(SvmExitCode.Vmmcall, ExitCode(r));
        Assert.Equal(Rflags.Fixed1, r.Final.Regs[Registers.Rbx] & ~Rflags.Arithmetic);
        Assert.Equal(Rflags.Fixed1, Vmcb(r, Vmcb12.RflagsOffset) & ~Rflags.Arithmetic);
    }

    /// <summary>
    /// <c>nested_save_pending_event_to_vmcb12</c> writes EXITINTINFO on every #VMEXIT: 0, as no event was being
    /// delivered, whatever L1 left in it before VMRUN.
    /// </summary>
    [Fact]
    public void A_VMEXIT_clears_EXITINTINFO_and_EVENTINJ_that_L1_left_in_vmcb12()
    {
        var r = Run(_ => { }, tweak: a =>
        {
            a.mov(__dword_ptr[rdi + Vmcb12.ExitIntInfoOffset], unchecked((int)0x8000_0003));
            a.mov(__dword_ptr[rdi + Vmcb12.EventInjOffset], 0x0000_0303); // type and vector, not valid: VMRUN injects nothing
            a.mov(__dword_ptr[rdi + Vmcb12.EventInjOffset + 4], 0x55);    // EVENTINJ's error code
        });
        Assert.Equal(SvmExitCode.Vmmcall, ExitCode(r));
        Assert.Equal(0ul, Vmcb(r, Vmcb12.ExitIntInfoOffset) & 0xFFFF_FFFF);
        Assert.Equal(0ul, Vmcb(r, Vmcb12.EventInjOffset)); // "Clear EVENTINJ fields in vmcb12 on nested #VMEXIT"
    }

    /// <summary>
    /// An L2 VMMCALL that L1 does not intercept is never a hypercall. 6.18 (the 2026 stable fixes) raises #UD in L2, which
    /// L1 may intercept (exit 0x46); 6.1.192, without those fixes, lets the processor's #UD reach L0, whose
    /// FIX_HYPERCALL_INSN rewrite re-executes the instruction forever, unless L1 intercepts #UD or the quirk is disabled.
    /// </summary>
    [Theory]
    [InlineData(KernelProfile.Linux6_18, false, false, "#UD")]
    [InlineData(KernelProfile.Linux6_18, true, false, "0x46")]
    [InlineData(KernelProfile.Linux6_1, false, false, "loops")]
    [InlineData(KernelProfile.Linux6_1, true, false, "0x46")]
    [InlineData(KernelProfile.Linux6_1, false, true, "#UD")]
    public void An_L2_VMMCALL_that_L1_does_not_intercept_is_a_UD_or_a_loop_never_a_hypercall(KernelProfile profile, bool l1InterceptsUd, bool quirkDisabled, string expected)
    {
        // L2 is just the VMMCALL, which vmcb12 does not intercept (word 4 has only VMRUN).
        var program = Build(_ => { }, word4: Vmcb12.InterceptVmrun, tweak: l1InterceptsUd ? a => a.mov(__dword_ptr[rdi + Vmcb12.ExceptionInterceptsOffset], 1 << 6) : null);
        var vm = new Vm(SvmMachine.Vm.Host, profile, quirkDisabled ? KvmQuirks.FixHypercallInsn : KvmQuirks.None);
        var r = Runner.Run(Policy.Lazy, Machine.Boot(program, KvmState.WithCpuid(vm, Policy.Lazy, SvmMachine.Table)), TestMachine.DefaultSteps);
        switch (expected)
        {
            case "0x46":
                Assert.Equal(SvmExitCode.ExceptionBase + 6, ExitCode(r));
                break;
            case "#UD":
                Assert.Equal(X86Exception.UD, Assert.IsType<StopReason.UnhandledFault>(r.Stop).Vector);
                break;
            default:
                Assert.Equal(SvmReflect.VmmcallLoops, Assert.IsType<StopReason.Unsupported>(r.Stop).Why);
                break;
        }
    }

    /// <summary><c>svm_set_efer</c>: L1 clearing EFER.SVME leaves SVM and sets GIF, even after a CLGI.</summary>
    [Fact]
    public void Clearing_EFER_SVME_sets_GIF()
    {
        var r = Run(_ => { }, tweak: a =>
        {
            a.clgi();
            a.mov(ecx, 0xC000_0080);
            a.rdmsr();
            a.btr(eax, 12);
            a.wrmsr();
            a.hlt();
        });
        Assert.True(r.Stop is StopReason.Halted, TestMachine.Describe(r));
        Assert.True(r.Final.Svm.Gif);
        Assert.Equal(0ul, r.Final.Efer & Efer.Svme);
    }

    /// <summary>
    /// The selective CR0 intercept (word 3 bit 5, <c>check_selective_cr0_intercepted</c>): an L2 MOV to CR0 that sets CD
    /// exits with SVM_EXIT_CR0_SEL_WRITE (0x65), one that changes only TS and MP does not.
    /// </summary>
    [Theory]
    [InlineData(1ul << 30, true)]             // CD
    [InlineData((1ul << 3) | (1ul << 1), false)] // TS and MP
    public void The_selective_CR0_intercept_exits_for_bits_other_than_TS_and_MP(ulong flip, bool exits)
    {
        var r = Run(a =>
        {
            a.mov(rbx, cr0);
            a.mov(rcx, (long)flip);
            a.xor(rbx, rcx);
            a.mov(cr0, rbx);
        }, word3: Vmcb12.InterceptSelectiveCr0);
        Assert.Equal(exits ? SvmExitCode.Cr0SelectiveWrite : SvmExitCode.Vmmcall, ExitCode(r));
        if (exits)
        {
            Assert.Equal((1ul << 63) | 3, Vmcb(r, Vmcb12.ExitInfo1Offset)); // the source GPR, RBX
        }
    }

    [Fact]
    public void VMMCALL_intercepted_exits_with_0x81_and_next_rip_past_it()
    {
        var r = Run(_ => { });
        Assert.Equal(SvmExitCode.Vmmcall, ExitCode(r));
        Assert.Equal(Vmcb(r, 0x578) + 3, Vmcb(r, 0xC8));
    }

    [Fact]
    public void VMRUN_without_EFER_SVME_is_UD_and_without_VM_HSAVE_PA_is_GP()
    {
        var noSvme = Run(_ => { }, tweak: a =>
        {
            a.mov(ecx, 0xC000_0080);
            a.rdmsr();
            a.btr(eax, 12);
            a.wrmsr();
        });
        Assert.Equal(new StopReason.UnhandledFault(1, ((StopReason.UnhandledFault)noSvme.Stop).Rip, X86Exception.UD), noSvme.Stop);

        var noHsave = Run(_ => { }, tweak: a =>
        {
            a.mov(ecx, 0xC001_0117);
            a.xor(eax, eax);
            a.xor(edx, edx);
            a.wrmsr();
        });
        Assert.Equal(X86Exception.GP, Assert.IsType<StopReason.UnhandledFault>(noHsave.Stop).Vector);
    }

    public static TheoryData<string, int, ulong> InvalidVmcbs => new()
    {
        { "ASID 0", 0x58, 0 },
        { "no VMRUN intercept", 0x10, 2 },
        { "save.efer without SVME", 0x4D0, 0x500 },
        { "save.cr0 with NW and without CD", 0x558, MachineLayout.InitialCr0 | MachineLayout.Cr0Nw },
        { "save.cr4 without PAE in long mode", 0x548, Cr4.OsXsave },
        { "save.cr4 with a reserved bit", 0x548, MachineLayout.InitialCr4 | Cr4.Smxe },
        { "save.dr6 with bit 32", 0x568, 1ul << 32 },
        { "save.dr7 with bit 63", 0x560, 1ul << 63 },
        { "save.cr3 above MAXPHYADDR in long mode", 0x550, 1ul << 52 },
        { "save.cs with both L and D in long mode", Vmcb12.CsAttribOffset, 0x0A9B | 0x0400 }, // a 64-bit code segment plus D
        { "save.efer with NXE on a guest without NX", Vmcb12.EferOffset, Efer.Svme | MachineLayout.EferLme | MachineLayout.EferLma | (1ul << 11) },
        { "an I/O permission map whose last byte is above MAXPHYADDR (48 bits)", 0x40, (1ul << 48) - 0x2000 },
    };

    /// <summary>
    /// <c>nested_svm_check_bitmap_pa</c> on the base KVM's cached controls masked to its page: a map base with low bits
    /// set counts from its own page (not the next one), so a map that fits from there is valid.
    /// </summary>
    [Fact]
    public void An_io_permission_map_base_is_taken_down_to_its_page()
    {
        var r = Run(_ => { }, tweak: a =>
        {
            a.mov(rax, (1L << 48) - 0x3000 + 0x10); // 12 KiB from its page fit below 2^48 (MAXPHYADDR); rounded up they would not
            a.mov(__qword_ptr[rdi + Vmcb12.IopmBasePaOffset], rax);
        });
        Assert.Equal(SvmExitCode.Vmmcall, ExitCode(r));
    }

    /// <summary>
    /// <c>nested_svm_intercept_ioio</c> tests the bit of every port an access touches: a 4-byte IN at 0x4FFF reads
    /// ports 0x4FFF–0x5002, so 0x5000's bit alone makes it exit (0x7B), across two map bytes.
    /// </summary>
    [Fact]
    public void An_io_access_exits_if_any_port_it_touches_is_intercepted()
    {
        const ulong iopm = SvmHarness.Vmcb + 0x4000;
        var r = Run(a =>
        {
            a.mov(edx, 0x4FFF);
            a.@in(eax, dx);
        }, word3: Vmcb12.InterceptIoioProt, tweak: a =>
        {
            a.mov(rax, (long)iopm);
            a.mov(__qword_ptr[rdi + Vmcb12.IopmBasePaOffset], rax);
            a.mov(rsi, (long)(iopm + (0x5000 / 8)));
            a.mov(__byte_ptr[rsi], 1); // port 0x5000 only
        });
        Assert.Equal(SvmExitCode.Ioio, ExitCode(r));
        // EXITINFO1: port 0x4FFF, A64 (bit 9), 32-bit operand (bit 6), IN (bit 0); EXITINFO2: past the 1-byte IN.
        Assert.Equal((0x4FFFul << 16) | (1ul << 9) | (1ul << 6) | 1, Vmcb(r, Vmcb12.ExitInfo1Offset));
        Assert.Equal(Vmcb(r, Vmcb12.RipOffset) + 1, Vmcb(r, Vmcb12.ExitInfo2Offset));
    }

    [Theory]
    [MemberData(nameof(InvalidVmcbs))]
    public void A_vmcb12_failing_the_consistency_checks_is_VMEXIT_INVALID_and_L1_continues(string what, int offset, ulong value)
    {
        var r = Run(_ => { }, tweak: a =>
        {
            a.mov(rax, (long)value);
            a.mov(__qword_ptr[rdi + offset], rax);
        });
        Assert.True(0xFFFF_FFFFul == ExitCode(r), what);
        Assert.Equal(SvmExitCode.Invalid, Vmcb(r, Vmcb12.ExitCodeOffset)); // exit_code_hi too: SVM_EXIT_ERR is -1 in 64 bits
        Assert.False(r.Final.Svm.Gif, what); // "Clear GIF on nested #VMEXIT(INVALID)"
        Assert.Contains(r.Observations, o => o is RunObservation.SvmVmrunInvalid);
        Assert.DoesNotContain(r.Trace, e => e is VcpuEvent.NestedSvmVmrun);
    }

    /// <summary>
    /// <c>nested_svm_vmexit</c> writes save.dr7 and save.dr6 back as VMRUN loaded them: DR7 with bit 10, DR6 with its
    /// active-low bits (0xFFFF0FF0), so zeros in vmcb12 come back as 0x400 and 0xFFFF0FF0.
    /// </summary>
    [Fact]
    public void A_VMEXIT_writes_back_DR7_and_DR6_with_their_always_one_bits()
    {
        var r = Run(_ => { }, tweak: a =>
        {
            a.mov(__qword_ptr[rdi + Vmcb12.Dr7Offset], 0);
            a.mov(__qword_ptr[rdi + Vmcb12.Dr6Offset], 0);
        });
        Assert.Equal(SvmExitCode.Vmmcall, ExitCode(r));
        Assert.Equal(0x400ul, Vmcb(r, Vmcb12.Dr7Offset));
        Assert.Equal(0xFFFF_0FF0ul, Vmcb(r, Vmcb12.Dr6Offset));
    }

    /// <summary>
    /// Intercept word 0's low half is the CR reads (<c>nested_svm_intercept</c>, INTERCEPT_CR0_READ + n): an L2 MOV
    /// from CR4 with bit 4 set exits with 0x04, EXITINFO1 bit 63 and the destination GPR, and the GPR keeps its value.
    /// </summary>
    /// <summary>A 64-bit code segment (L without D, attributes 0xA9B) passes the CS check.</summary>
    [Fact]
    public void A_long_mode_code_segment_with_L_and_without_D_runs_L2()
    {
        var r = Run(_ => { }, tweak: a => a.mov(__word_ptr[rdi + Vmcb12.CsAttribOffset], 0x0A9B));
        Assert.Equal(SvmExitCode.Vmmcall, ExitCode(r));
    }

    [Fact]
    public void An_intercepted_L2_MOV_from_CR4_exits_with_0x04_and_the_destination_register()
    {
        var r = Run(a =>
        {
            a.mov(rbx, 0x1234);
            a.mov(rbx, cr4);
        }, word3: 0, tweak: a => a.mov(__dword_ptr[rdi], 1u << 4));
        Assert.Equal(SvmExitCode.ReadCr4, ExitCode(r));
        Assert.Equal((1ul << 63) | 3, Vmcb(r, Vmcb12.ExitInfo1Offset)); // RBX is GPR 3
        Assert.Equal(0x1234ul, r.Final.Regs[Registers.Rbx]);
        var notIntercepted = Run(a => a.mov(rbx, cr4), word3: 0, tweak: a => a.mov(__dword_ptr[rdi], 1u << 20)); // CR4 writes only
        Assert.Equal(SvmExitCode.Vmmcall, ExitCode(notIntercepted));
    }

    [Fact]
    public void An_intercepted_L2_MOV_to_CR4_exits_with_0x14_and_the_source_register_and_changes_nothing()
    {
        var r = Run(a =>
        {
            a.mov(rbx, (long)MachineLayout.InitialCr4);
            a.mov(cr4, rbx);
        }, word3: 0, tweak: a => a.mov(__dword_ptr[rdi], 1u << 20));
        Assert.Equal(SvmExitCode.WriteCr4, ExitCode(r));
        Assert.Equal((1ul << 63) | 3, Vmcb(r, 0x78));
        Assert.Equal(L1Cr4, Vmcb(r, 0x548)); // L2's CR4 as it was
    }

    [Fact]
    public void An_intercepted_L2_XSETBV_exits_with_0x8D_and_one_not_intercepted_is_emulated_by_L0()
    {
        Action<Assembler> xsetbv = a =>
        {
            a.xor(ecx, ecx);
            a.mov(eax, 7);
            a.xor(edx, edx);
            a.xsetbv();
        };
        var intercepted = Run(xsetbv, word4: 2 | (1u << 13));
        Assert.Equal(SvmExitCode.Xsetbv, ExitCode(intercepted));
        Assert.Equal(1ul, intercepted.Final.Kvm.Vcpu.Xcr0);

        var emulated = Run(xsetbv);
        Assert.Equal(SvmExitCode.Vmmcall, ExitCode(emulated));
        Assert.Equal(7ul, emulated.Final.Kvm.Vcpu.Xcr0);
    }

    [Fact]
    public void An_L2_RDMSR_exits_with_0x7C_under_MSR_PROT_when_its_permission_bit_is_set()
    {
        Action<Assembler> rdmsr = a =>
        {
            a.mov(ecx, Msr.MiscEnable);
            a.rdmsr();
        };
        // MSR_PROT with an all-zero map at page 0: L0 handles it.
        Assert.Equal(SvmExitCode.Vmmcall, ExitCode(Run(rdmsr, word3: 1u << 28)));
        // The read bit of 0x1A0 set in a map at 0x104000: exit, EXITINFO1 0 (read).
        var bit = 0x1A0 * 2;
        var r = Run(rdmsr, word3: 1u << 28, tweak: a =>
        {
            a.mov(rax, 0x10_4000);
            a.mov(__qword_ptr[rdi + 0x48], rax);
            a.mov(__byte_ptr[rax + (bit / 8)], (byte)(1 << (bit % 8)));
        });
        Assert.Equal(SvmExitCode.Msr, ExitCode(r));
        Assert.Equal(0ul, Vmcb(r, 0x78));
    }

    [Fact]
    public void An_L2_fault_exits_with_its_exception_code_if_intercepted_else_as_SHUTDOWN_if_that_is()
    {
        Action<Assembler> ud = a => a.ud2();
        Assert.Equal(SvmExitCode.ExceptionBase + 6, ExitCode(Run(ud, tweak: a => a.mov(__dword_ptr[rdi + 0x08], 1u << 6))));
        Assert.Equal(SvmExitCode.Shutdown, ExitCode(Run(ud, word3: 1u << 31)));
        var unhandled = Run(ud);
        Assert.Equal(2, Assert.IsType<StopReason.UnhandledFault>(unhandled.Stop).Level);
    }

    [Fact]
    public void An_L2_CPUID_exits_with_0x72_only_if_vmcb12_intercepts_it()
    {
        Action<Assembler> cpuid = a =>
        {
            a.mov(eax, 1);
            a.xor(ecx, ecx);
            a.cpuid();
        };
        Assert.Equal(SvmExitCode.Cpuid, ExitCode(Run(cpuid, word3: 1u << 18)));
        var answered = Run(cpuid, l2Cr4: MachineLayout.InitialCr4);
        Assert.Equal(SvmExitCode.Vmmcall, ExitCode(answered));
        var l2 = Assert.Single(answered.Observations.OfType<RunObservation.Kvm>(), o => o.Level == 2);
        Assert.Equal(0u, (Assert.IsType<Observation.CpuidResult>(l2.Value).Ecx >> 27) & 1);
    }

    [Fact]
    public void STGI_CLGI_VMLOAD_and_VMSAVE_need_EFER_SVME_and_GIF_follows_them()
    {
        var a = new Assembler(64);
        var l2 = a.CreateLabel();
        SvmHarness.EmitSetup(a, L1Cr4, L1Cr4, 0, 2, l2);
        a.clgi();
        a.mov(rax, (long)SvmHarness.Vmcb);
        a.vmsave();
        a.vmload();
        a.hlt();
        a.Label(ref l2);
        a.vmmcall();
        var r = SvmMachine.RunAgreeing(RoundTrip.Assemble(a));
        Assert.IsType<StopReason.Halted>(r.Stop);
        Assert.False(r.Final.Svm.Gif);

        var without = SvmMachine.RunAgreeing(TestMachine.L1(b => b.stgi()));
        Assert.Equal(X86Exception.UD, Assert.IsType<StopReason.UnhandledFault>(without.Stop).Vector);
    }
}
