using CpuidFunctional.Interpreter.Decoding;
using CpuidFunctional.Interpreter.Machine;
using CpuidFunctional.Interpreter.Vmx;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace CpuidFunctional.Properties.Interpreter;

/// <summary>
/// The reflection step (<see cref="VmxReflect"/>, KVM's <c>nested_vmx_l1_wants_exit</c>) asked directly: each case
/// takes a machine that a real VM entry put in L2, at the instruction under test, and checks what L1 gets.
/// </summary>
public class ReflectionTests
{
    private static readonly RoundTripSetup Default = new();

    private static readonly Reflection HandleHere = Reflection.HandleHere.Instance;

    /// <summary>The working copy at L2's first instruction (L1 set up and entered with <paramref name="setup"/>) and that instruction.</summary>
    private static (Cpu Cpu, Insn Insn) AtL2(Action<Assembler> l2, RoundTripSetup? setup = null)
    {
        var program = RoundTrip.Build(setup ?? Default, a => a.hlt(), l2);
        var m = TestMachine.Boot(program, Policy.Lazy);
        for (var steps = 0; !m.InL2; steps++)
        {
            Assert.True(steps < 1000, "L1's set-up never entered L2");
            var r = Runner.Run(Policy.Lazy, m, 1);
            Assert.True(r.Stop is StopReason.StepLimit, $"L1's set-up stopped: {r.Stop}");
            m = r.Final;
        }
        var c = Cpu.From(m);
        return (c, new DecodeCache().Fetch(c.Memory, c.Rip)!);
    }

    private static Reflection WantsExit(Action<Assembler> l2, RoundTripSetup? setup = null)
    {
        var (c, i) = AtL2(l2, setup);
        return VmxReflect.L1WantsExit(c, i);
    }

    private static Reflection.ExitToL1 Exit(uint reason, ulong qualification = 0) => new(reason, qualification);

    [Fact]
    public void Cpuid_in_L2_always_exits_to_L1_whatever_the_controls()
    {
        var everything = Default with
        {
            ExtraProcControls = VmxCapabilities.ProcHltExiting | VmxCapabilities.ProcPauseExiting | VmxCapabilities.ProcUnconditionalIoExiting,
        };
        Assert.Equal(Exit(ExitReason.Cpuid), WantsExit(a => a.cpuid()));
        Assert.Equal(Exit(ExitReason.Cpuid), WantsExit(a => a.cpuid(), everything));
    }

    [Theory]
    [InlineData(0ul, 0ul, Cr4.OsXsave, false)] // L1 owns nothing: never an exit
    [InlineData(Cr4.OsXsave, 0ul, Cr4.OsXsave, true)] // an owned bit set against a clear shadow
    [InlineData(Cr4.OsXsave, Cr4.OsXsave, Cr4.OsXsave, false)] // the owned bit equals the shadow
    [InlineData(Cr4.OsXsave, 0ul, Cr4.Pke, false)] // only a bit L1 does not own differs
    [InlineData(Cr4.OsXsave | Cr4.Pke, Cr4.Pke, 0ul, true)] // an owned bit cleared against a set shadow
    public void Mov_to_cr4_in_L2_exits_only_when_a_bit_L1_owns_differs_from_the_read_shadow(ulong mask, ulong shadow, ulong flipped, bool exits)
    {
        var setup = Default with { Cr4GuestHostMask = mask, Cr4ReadShadow = shadow };
        var (c, i) = AtL2(a => a.mov(cr4, rbx), setup);
        c.Gprs[Registers.Rbx] = Default.GuestCr4 | flipped;
        // Qualification (SDM table 28-3): CR4, access type 0 (MOV to CR), source register RBX (3).
        Assert.Equal(exits ? Exit(ExitReason.CrAccess, 4 | (3 << 8)) : HandleHere, VmxReflect.L1WantsExit(c, i));
    }

    [Fact]
    public void Mov_to_cr0_in_L2_follows_the_cr0_mask_and_read_shadow_not_the_cr4_ones()
    {
        var setup = Default with { Cr4GuestHostMask = ~0ul, Cr4ReadShadow = 0 };
        var (c, i) = AtL2(a => a.mov(cr0, rax), setup);
        c.Gprs[Registers.Rax] = MachineLayout.InitialCr0 ^ MachineLayout.Cr0Cd;
        Assert.Equal(HandleHere, VmxReflect.L1WantsExit(c, i));
        c.Vmx = c.Vmx with { Current = c.Vmx.Current.Write(VmcsField.Cr0GuestHostMask, MachineLayout.Cr0Cd) };
        // Qualification: CR0, access type 0, source register RAX (0).
        Assert.Equal(Exit(ExitReason.CrAccess, 0), VmxReflect.L1WantsExit(c, i));
    }

    [Fact]
    public void Rdmsr_and_wrmsr_in_L2_always_exit_because_L1_is_offered_no_msr_bitmaps()
    {
        const uint UseMsrBitmaps = 1u << 28;
        Assert.Equal(0u, VmxCapabilities.ProcMay1 & UseMsrBitmaps);
        Assert.Equal(Exit(ExitReason.Rdmsr), WantsExit(a => a.rdmsr()));
        Assert.Equal(Exit(ExitReason.Wrmsr), WantsExit(a => a.wrmsr()));
    }

    [Fact]
    public void Xsetbv_in_L2_exits_with_osxsave_and_faults_with_ud_first_without_it()
    {
        Assert.Equal(Exit(ExitReason.Xsetbv), WantsExit(a => a.xsetbv(), Default with { GuestCr4 = Default.GuestCr4 | Cr4.OsXsave }));
        Assert.Equal(new Reflection.Fault(X86Exception.UD), WantsExit(a => a.xsetbv()));
    }

    [Fact]
    public void Hlt_and_pause_in_L2_exit_only_with_their_execution_controls()
    {
        Assert.Equal(HandleHere, WantsExit(a => a.hlt()));
        Assert.Equal(HandleHere, WantsExit(a => a.pause()));
        Assert.Equal(Exit(ExitReason.Hlt), WantsExit(a => a.hlt(), Default with { ExtraProcControls = VmxCapabilities.ProcHltExiting }));
        Assert.Equal(Exit(ExitReason.Pause), WantsExit(a => a.pause(), Default with { ExtraProcControls = VmxCapabilities.ProcPauseExiting }));
    }

    [Fact]
    public void In_and_out_in_L2_exit_only_with_unconditional_io_exiting_and_carry_size_direction_and_port()
    {
        var io = Default with { ExtraProcControls = VmxCapabilities.ProcUnconditionalIoExiting };
        Assert.Equal(HandleHere, WantsExit(a => a.@out(0x80, eax)));
        // OUT imm8, EAX: size 4 − 1, OUT, immediate operand (bit 6), port 0x80 in bits 31:16.
        Assert.Equal(Exit(ExitReason.IoInstruction, 3 | (1 << 6) | (0x80 << 16)), WantsExit(a => a.@out(0x80, eax), io));
        var (c, i) = AtL2(a => a.@in(al, dx), io);
        c.Gprs[Registers.Rdx] = 0x3F8;
        // IN AL, DX: size 1 − 1, IN (bit 3), port from DX.
        Assert.Equal(Exit(ExitReason.IoInstruction, (1 << 3) | (0x3F8ul << 16)), VmxReflect.L1WantsExit(c, i));
    }

    [Fact]
    public void Vmx_instructions_and_vmcall_in_L2_always_exit_with_their_own_reason()
    {
        Assert.Equal(Exit(ExitReason.Vmcall), WantsExit(a => a.vmcall()));
        Assert.Equal(Exit(ExitReason.Vmresume), WantsExit(a => a.vmresume()));
        Assert.Equal(Exit(ExitReason.Vmread), WantsExit(a => a.vmread(rax, rbx)));
        Assert.Equal(Exit(ExitReason.Vmxon), WantsExit(a => a.vmxon(__qword_ptr[rdi])));
    }

    [Fact]
    public void Data_instructions_xgetbv_pkru_and_cr_reads_in_L2_are_handled_by_L0()
    {
        var io = Default with { ExtraProcControls = VmxCapabilities.ProcUnconditionalIoExiting | VmxCapabilities.ProcHltExiting, Cr4GuestHostMask = ~0ul };
        Assert.Equal(HandleHere, WantsExit(a => a.add(rax, rbx), io));
        Assert.Equal(HandleHere, WantsExit(a => a.xgetbv(), io));
        Assert.Equal(HandleHere, WantsExit(a => a.rdpkru(), io));
        Assert.Equal(HandleHere, WantsExit(a => a.wrpkru(), io));
        Assert.Equal(HandleHere, WantsExit(a => a.mov(rax, cr4), io));
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(1u << 6)]
    [InlineData(1u << 13)]
    [InlineData((1u << 6) | (1u << 13))]
    [InlineData(~0u)]
    public void An_exception_in_L2_exits_iff_its_bit_is_set_in_the_exception_bitmap(uint bitmap)
    {
        var (c, _) = AtL2(a => a.nop(), Default with { ExceptionBitmap = bitmap });
        foreach (var vector in Enum.GetValues<X86Exception>())
        {
            var v = (uint)vector;
            // Interruption information: vector, type 3 (hardware exception), error code valid for #GP, valid.
            var info = v | (3u << 8) | (vector == X86Exception.GP ? 1u << 11 : 0) | (1u << 31);
            var expected = ((bitmap >> (int)v) & 1) != 0 ? new Reflection.ExitToL1(ExitReason.ExceptionOrNmi, 0, info) : HandleHere;
            Assert.Equal(expected, VmxReflect.L1WantsException(c, vector));
        }
    }
}
