using CpuidFunctional.Interpreter.Machine;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace CpuidFunctional.Properties.Interpreter;

public class DataInstructionTests
{
    private static Machine RunL1(Action<Assembler> body)
    {
        var r = TestMachine.Run(TestMachine.L1(body));
        Assert.True(r.Stop is StopReason.Halted, TestMachine.Describe(r));
        return r.Final;
    }

    private static bool Flag(Machine m, ulong flag) => (m.Regs.Rflags & flag) != 0;

    [Fact]
    public void Mov_moves_immediates_registers_and_memory_and_32_bit_writes_zero_extend()
    {
        var m = RunL1(a =>
        {
            a.mov(rax, unchecked((long)0xFFFF_FFFF_FFFF_FFFF));
            a.mov(eax, 0x1234);
            a.mov(rbx, 0x200000 - 0x100);
            a.mov(__qword_ptr[rbx], rax);
            a.mov(rcx, __qword_ptr[rbx]);
            a.mov(dl, 0x7F);
            a.mov(dh, 0x11);
        });
        Assert.Equal(0x1234ul, m.Regs[Registers.Rax]);
        Assert.Equal(0x1234ul, m.Regs[Registers.Rcx]);
        Assert.Equal(0x117Ful, m.Regs[Registers.Rdx]);
    }

    [Fact]
    public void Movzx_and_movsx_extend_bytes_and_words()
    {
        var m = RunL1(a =>
        {
            a.mov(ecx, 0x80F0);
            a.movzx(eax, cl);
            a.movsx(rbx, cl);
            a.movsx(rdx, cx);
        });
        Assert.Equal(0xF0ul, m.Regs[Registers.Rax]);
        Assert.Equal(0xFFFF_FFFF_FFFF_FFF0ul, m.Regs[Registers.Rbx]);
        Assert.Equal(0xFFFF_FFFF_FFFF_80F0ul, m.Regs[Registers.Rdx]);
    }

    [Fact]
    public void Lea_computes_base_index_scale_displacement_without_touching_memory()
    {
        var m = RunL1(a =>
        {
            a.mov(rbx, 0x1000);
            a.mov(rcx, 3);
            a.lea(rax, __[rbx + rcx * 8 + 0x10]);
        });
        Assert.Equal(0x1028ul, m.Regs[Registers.Rax]);
    }

    [Fact]
    public void Add_sets_carry_and_zero_on_wraparound()
    {
        var m = RunL1(a =>
        {
            a.mov(al, 0xFF);
            a.add(al, 1);
        });
        Assert.Equal(0ul, m.Regs[Registers.Rax] & 0xFF);
        Assert.True(Flag(m, Rflags.CF));
        Assert.True(Flag(m, Rflags.ZF));
        Assert.False(Flag(m, Rflags.OF));
    }

    [Fact]
    public void Sub_and_cmp_set_borrow_sign_and_overflow()
    {
        var m = RunL1(a =>
        {
            a.mov(eax, 0x8000_0000);
            a.sub(eax, 1);
            a.mov(ebx, 1);
            a.cmp(ebx, 2);
        });
        Assert.Equal(0x7FFF_FFFFul, m.Regs[Registers.Rax]);
        Assert.Equal(1ul, m.Regs[Registers.Rbx]);
        Assert.True(Flag(m, Rflags.CF));
        Assert.True(Flag(m, Rflags.SF));
    }

    [Fact]
    public void Logic_ops_clear_carry_and_overflow_and_test_does_not_write()
    {
        var m = RunL1(a =>
        {
            a.mov(eax, 0xF0);
            a.and(eax, 0x3C);
            a.or(eax, 0x01);
            a.xor(eax, 0x100);
            a.mov(ebx, 0x5);
            a.test(ebx, 0x2);
        });
        Assert.Equal(0x131ul, m.Regs[Registers.Rax]);
        Assert.Equal(5ul, m.Regs[Registers.Rbx]);
        Assert.True(Flag(m, Rflags.ZF));
        Assert.False(Flag(m, Rflags.CF));
    }

    [Fact]
    public void Inc_dec_not_neg()
    {
        var m = RunL1(a =>
        {
            a.mov(al, 0xFF);
            a.add(al, 1); // CF = 1, which INC and DEC keep
            a.mov(eax, 0);
            a.dec(eax);
            a.mov(ebx, 0x7FFF_FFFF);
            a.inc(ebx);
            a.mov(ecx, 0x0F);
            a.not(ecx);
            a.mov(rdx, 5);
            a.neg(rdx);
        });
        Assert.Equal(0xFFFF_FFFFul, m.Regs[Registers.Rax]);
        Assert.Equal(0x8000_0000ul, m.Regs[Registers.Rbx]);
        Assert.Equal(0xFFFF_FFF0ul, m.Regs[Registers.Rcx]);
        Assert.Equal(unchecked((ulong)-5L), m.Regs[Registers.Rdx]);
        Assert.True(Flag(m, Rflags.CF));
    }

    [Fact]
    public void An_instruction_outside_the_set_stops_the_run_naming_rip_bytes_and_mnemonic()
    {
        var r = TestMachine.Run(TestMachine.L1(a => a.stc()));
        var stop = Assert.IsType<StopReason.Unsupported>(r.Stop);
        Assert.Equal(MachineLayout.LoadAddress, stop.Rip);
        Assert.Equal("F9", stop.Bytes);
        Assert.Equal("stc", stop.Instruction);
    }

    [Fact]
    public void Shifts_by_immediate_and_cl_set_carry_from_the_last_bit_out()
    {
        var m = RunL1(a =>
        {
            a.mov(eax, 0x8000_0001);
            a.shl(eax, 1);
            a.mov(ebx, 0x10);
            a.mov(cl, 4);
            a.shr(ebx, cl);
            a.mov(rdx, -16);
            a.sar(rdx, 2);
        });
        Assert.Equal(0x2ul, m.Regs[Registers.Rax]);
        Assert.Equal(0x1ul, m.Regs[Registers.Rbx]);
        Assert.Equal(unchecked((ulong)-4L), m.Regs[Registers.Rdx]);
    }

    [Fact]
    public void Bt_bts_btr_copy_the_bit_to_carry()
    {
        var m = RunL1(a =>
        {
            a.mov(eax, 0b1010);
            a.bts(eax, 0);
            a.btr(eax, 3);
            a.bt(eax, 1);
        });
        Assert.Equal(0b0011ul, m.Regs[Registers.Rax]);
        Assert.True(Flag(m, Rflags.CF));
    }

    [Fact]
    public void Jcc_follows_signed_and_unsigned_conditions()
    {
        var m = RunL1(a =>
        {
            var notTaken = a.CreateLabel();
            var done = a.CreateLabel();
            a.mov(eax, 1);
            a.cmp(eax, -1);
            a.jl(notTaken); // 1 < -1 is false (signed)
            a.jb(done); // 1 < 0xFFFFFFFF is true (unsigned)
            a.Label(ref notTaken);
            a.mov(ebx, 0xBAD);
            a.Label(ref done);
            a.mov(ecx, 0x600D);
        });
        Assert.Equal(0ul, m.Regs[Registers.Rbx]);
        Assert.Equal(0x600Dul, m.Regs[Registers.Rcx]);
    }

    [Fact]
    public void Loop_counts_rcx_down()
    {
        var m = RunL1(a =>
        {
            var top = a.CreateLabel();
            a.mov(ecx, 5);
            a.xor(eax, eax);
            a.Label(ref top);
            a.add(eax, 2);
            a.loop(top);
        });
        Assert.Equal(10ul, m.Regs[Registers.Rax]);
        Assert.Equal(0ul, m.Regs[Registers.Rcx]);
    }

    [Fact]
    public void Call_ret_push_pop_and_jmp_use_the_stack_below_the_documented_top()
    {
        var m = RunL1(a =>
        {
            var function = a.CreateLabel();
            var done = a.CreateLabel();
            a.push(0x42);
            a.call(function);
            a.pop(rbx);
            a.jmp(done);
            a.Label(ref function);
            a.mov(rax, rsp);
            a.ret();
            a.Label(ref done);
        });
        Assert.Equal(MachineLayout.InitialRsp - 16, m.Regs[Registers.Rax]);
        Assert.Equal(0x42ul, m.Regs[Registers.Rbx]);
        Assert.Equal(MachineLayout.InitialRsp, m.Regs[Registers.Rsp]);
    }

    [Fact]
    public void Nop_and_pause_only_advance()
    {
        var m = RunL1(a =>
        {
            a.nop();
            a.pause();
        });
        Assert.Equal(MachineLayout.LoadAddress + 3, m.Regs.Rip);
    }

    [Fact]
    public void Invalid_opcode_raises_ud_and_stops_at_l1()
    {
        var ud2 = TestMachine.Run(TestMachine.FromBytes([0x0F, 0x0B]));
        Assert.Equal(new StopReason.UnhandledFault(1, MachineLayout.LoadAddress, X86Exception.UD), ud2.Stop);
        var bad = TestMachine.Run(TestMachine.FromBytes([0x06])); // PUSH ES does not exist in 64-bit mode
        Assert.Equal(new StopReason.UnhandledFault(1, MachineLayout.LoadAddress, X86Exception.UD), bad.Stop);
        Assert.Contains(new RunObservation.Fault(1, MachineLayout.LoadAddress, X86Exception.UD), bad.Observations);
    }

    [Fact]
    public void Step_limit_stops_an_endless_loop_with_a_clear_reason()
    {
        var a = new Assembler(64);
        var top = a.CreateLabel();
        a.Label(ref top);
        a.jmp(top);
        var r = TestMachine.Run(RoundTrip.Assemble(a), maxSteps: 50);
        Assert.Equal(new StopReason.StepLimit(50), r.Stop);
        Assert.Equal("step limit of 50 instructions reached", r.Stop.ToString());
    }

    [Fact]
    public void Memory_access_outside_guest_memory_stops_the_run()
    {
        var r = TestMachine.Run(TestMachine.L1(a =>
        {
            a.mov(rbx, 0x4000_0000);
            a.mov(rax, __qword_ptr[rbx]);
        }));
        Assert.Equal(new StopReason.OutsideMemory(1, MachineLayout.LoadAddress + 10, 0x4000_0000), r.Stop);
    }

    [Fact]
    public void Writes_make_new_memory_and_leave_the_booted_machine_untouched()
    {
        var program = TestMachine.L1(a =>
        {
            a.mov(rbx, 0x8000);
            a.mov(__dword_ptr[rbx], 0x1234_5678);
        });
        var boot = TestMachine.Boot(program, Policy.Lazy);
        var r = Runner.Run(Policy.Lazy, boot, 100);
        Assert.Equal(0x1234_5678ul, r.Final.Memory.Read(0x8000, 4));
        Assert.Equal(0ul, boot.Memory.Read(0x8000, 4));
    }
}
