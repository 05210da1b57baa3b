using CpuidFunctional.Interpreter.Machine;
using CpuidFunctional.Interpreter.Vmx;
using CsCheck;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace CpuidFunctional.Properties.Interpreter;

/// <summary>
/// Random programs from a weighted menu of the supported instructions, run under Eager, Lazy and Reference: the
/// traces, observations, outputs and stop reasons must be equal. L1 programs are straight-line; L2 bodies run inside
/// the round-trip harness with an L1 handler that executes CPUID on every exit and resumes L2 after the exiting
/// instruction.
/// </summary>
public class RandomProgramProperties
{
    // Registers the generated code may use freely (not RSP; R12-R15 are left to the harness).
    private static readonly AssemblerRegister64[] Scratch = [rax, rbx, rcx, rdx, rsi, r8, r9, r10, r11];
    private static readonly AssemblerRegister32[] Scratch32 = [eax, ebx, ecx, edx, esi, r8d, r9d, r10d, r11d];

    private static readonly Gen<int> Reg = Gen.Int[0, Scratch.Length - 1];

    private static readonly ulong[] Cr4Choices =
    [
        MachineLayout.InitialCr4, MachineLayout.InitialCr4 | Cr4.OsXsave, MachineLayout.InitialCr4 | Cr4.Pke,
        MachineLayout.InitialCr4 | Cr4.OsXsave | Cr4.Pke, MachineLayout.InitialCr4 | Cr4.La57,
    ];

    private static readonly ulong[] Xcr0Choices = [0x1, 0x3, 0x7, 0x203, 0x207, 0x5, 0x1F];
    private static readonly ulong[] XssChoices = [0, 0x100, 0x1];
    private static readonly uint[] Leaves = [0, 1, 7, 0xD, 0x14, 0x8000_0000];

    private static readonly Gen<GuestOp> Data = Gen.Frequency(
        (4, Gen.Select(Reg, Gen.Int).Select(t => new GuestOp($"mov {Scratch32[t.Item1]}, {t.Item2}", a => a.mov(Scratch32[t.Item1], t.Item2)))),
        (3, Gen.Select(Reg, Reg).Select(t => new GuestOp($"add {Scratch[t.Item1]}, {Scratch[t.Item2]}", a => a.add(Scratch[t.Item1], Scratch[t.Item2])))),
        (2, Gen.Select(Reg, Reg).Select(t => new GuestOp($"sub {Scratch[t.Item1]}, {Scratch[t.Item2]}", a => a.sub(Scratch[t.Item1], Scratch[t.Item2])))),
        (2, Gen.Select(Reg, Gen.Int).Select(t => new GuestOp($"xor {Scratch32[t.Item1]}, {t.Item2}", a => a.xor(Scratch32[t.Item1], t.Item2)))),
        (1, Gen.Select(Reg, Gen.Int).Select(t => new GuestOp($"and {Scratch32[t.Item1]}, {t.Item2}", a => a.and(Scratch32[t.Item1], t.Item2)))),
        (1, Gen.Select(Reg, Gen.Int).Select(t => new GuestOp($"or {Scratch32[t.Item1]}, {t.Item2}", a => a.or(Scratch32[t.Item1], t.Item2)))),
        (1, Reg.Select(r => new GuestOp($"inc {Scratch[r]}", a => a.inc(Scratch[r])))),
        (1, Reg.Select(r => new GuestOp($"dec {Scratch32[r]}", a => a.dec(Scratch32[r])))),
        (1, Reg.Select(r => new GuestOp($"neg {Scratch[r]}", a => a.neg(Scratch[r])))),
        (1, Reg.Select(r => new GuestOp($"not {Scratch[r]}", a => a.not(Scratch[r])))),
        (1, Gen.Select(Reg, Gen.Int[0, 63]).Select(t => new GuestOp($"shl {Scratch[t.Item1]}, {t.Item2}", a => a.shl(Scratch[t.Item1], (byte)t.Item2)))),
        (1, Gen.Select(Reg, Gen.Int[0, 63]).Select(t => new GuestOp($"shr {Scratch[t.Item1]}, {t.Item2}", a => a.shr(Scratch[t.Item1], (byte)t.Item2)))),
        (1, Gen.Select(Reg, Gen.Int[0, 31]).Select(t => new GuestOp($"bts {Scratch32[t.Item1]}, {t.Item2}", a => a.bts(Scratch32[t.Item1], (byte)t.Item2)))),
        (1, Gen.Select(Reg, Gen.Int[0, 31]).Select(t => new GuestOp($"btr {Scratch32[t.Item1]}, {t.Item2}", a => a.btr(Scratch32[t.Item1], (byte)t.Item2)))),
        (1, Gen.Select(Reg, Reg).Select(t => new GuestOp($"cmp {Scratch[t.Item1]}, {Scratch[t.Item2]}", a => a.cmp(Scratch[t.Item1], Scratch[t.Item2])))),
        (1, Gen.Select(Reg, Reg).Select(t => new GuestOp($"lea {Scratch[t.Item1]}, [{Scratch[t.Item2]}+8]", a => a.lea(Scratch[t.Item1], __[Scratch[t.Item2] + 8])))),
        (1, Reg.Select(r => new GuestOp($"push {Scratch[r]}; pop {Scratch[r]}", a =>
        {
            a.push(Scratch[r]);
            a.pop(Scratch[r]);
        }))),
        (1, Gen.Const(new GuestOp("nop", a => a.nop())))
    );

    private static readonly Gen<GuestOp> System = Gen.Frequency(
        (4, Gen.Select(Gen.Int[0, Leaves.Length - 1], Gen.Int[0, 2]).Select(t => new GuestOp($"cpuid {Leaves[t.Item1]:x}.{t.Item2}", a =>
        {
            a.mov(eax, Leaves[t.Item1]);
            a.mov(ecx, t.Item2);
            a.cpuid();
        }))),
        (3, Gen.Int[0, Cr4Choices.Length - 1].Select(i => new GuestOp($"mov cr4, {Cr4Choices[i]:x}", a =>
        {
            a.mov(rax, (long)Cr4Choices[i]);
            a.mov(cr4, rax);
        }))),
        (2, Gen.Int[0, Xcr0Choices.Length - 1].Select(i => new GuestOp($"xsetbv {Xcr0Choices[i]:x}", a =>
        {
            a.xor(ecx, ecx);
            a.mov(eax, (uint)Xcr0Choices[i]);
            a.xor(edx, edx);
            a.xsetbv();
        }))),
        (2, Gen.Int[0, XssChoices.Length - 1].Select(i => new GuestOp($"wrmsr xss, {XssChoices[i]:x}", a =>
        {
            a.mov(ecx, Msr.Xss);
            a.mov(eax, (uint)XssChoices[i]);
            a.xor(edx, edx);
            a.wrmsr();
        }))),
        (1, Gen.Const(new GuestOp("rdmsr misc_enable", a =>
        {
            a.mov(ecx, Msr.MiscEnable);
            a.rdmsr();
        }))),
        (1, Reg.Select(r => new GuestOp($"out 0x80, {Scratch32[r]}", a =>
        {
            a.mov(eax, Scratch32[r]);
            a.@out(0x80, eax);
        }))),
        (1, Gen.Const(new GuestOp("xgetbv", a =>
        {
            a.xor(ecx, ecx);
            a.xgetbv();
        }))),
        (1, Gen.Const(new GuestOp("pause", a => a.pause())))
    );

    private static readonly Gen<GuestOp> Op = Gen.Frequency((3, Data), (2, System));

    internal static readonly Gen<GuestOp[]> Body = Op.Array[1, 24];

    internal static string Print(GuestOp[] ops) => string.Join("; ", ops.Select(o => o.Name));

    private static void AssertAgree(Program program, long steps)
    {
        var agreement = Runner.RunAll(Policy.Correct, p => TestMachine.Boot(program, p, TestMachine.Vm6_15), steps);
        Assert.True(agreement.Agree, agreement.FirstDifference);
    }

    [Fact]
    public void Random_straight_line_l1_programs_behave_the_same_under_every_policy() =>
        Body.Sample(
            ops =>
            {
                var a = new Assembler(64);
                foreach (var op in ops)
                {
                    op.Emit(a);
                }
                a.mov(eax, 1);
                a.xor(ecx, ecx);
                a.cpuid();
                a.hlt();
                AssertAgree(RoundTrip.Assemble(a), 1_000);
            },
            iter: 150,
            print: Print
        );

    /// <summary>L1 handler: CPUID 1 and 0xD (observation points) on every exit; VMCALL or an entry failure ends the run, anything else resumes after the exiting instruction.</summary>
    internal static void ObservingHandler(Assembler a) => ObservingHandler(a, 0);

    /// <summary>
    /// <see cref="ObservingHandler(Assembler)"/>, but before resuming L1 flips <paramref name="l1Cr4Toggle"/> in its own
    /// CR4 and observes again: L1 then VMRESUMEs with a CR4 other than HOST_CR4, which the next exit loads back.
    /// </summary>
    internal static void ObservingHandler(Assembler a, ulong l1Cr4Toggle)
    {
        var done = a.CreateLabel();
        EmitCpuid1AndD(a);
        a.mov(ebx, VmcsField.VmExitReason);
        a.vmread(rax, rbx);
        a.cmp(eax, (int)ExitReason.Vmcall);
        a.je(done);
        a.test(eax, eax);
        a.js(done);
        if (l1Cr4Toggle != 0)
        {
            a.mov(rax, cr4);
            a.xor(eax, (int)l1Cr4Toggle);
            a.mov(cr4, rax);
            EmitCpuid1AndD(a);
        }
        RoundTrip.EmitSkipInstructionAndResume(a);
        a.Label(ref done);
        RoundTrip.EmitReportAndHalt(a);
    }

    /// <summary>CPUID 1 and CPUID 0xD.0: the observation points a handler executes on every exit.</summary>
    internal static void EmitCpuid1AndD(Assembler a)
    {
        a.mov(eax, 1);
        a.xor(ecx, ecx);
        a.cpuid();
        a.mov(eax, 0xD);
        a.xor(ecx, ecx);
        a.cpuid();
    }

    private static readonly Gen<ulong> GuestCr4 = Gen.OneOf(
        Gen.Const(MachineLayout.InitialCr4 | Cr4.Vmxe),
        Gen.Const(MachineLayout.InitialCr4 | Cr4.Vmxe | Cr4.OsXsave),
        Gen.Const(MachineLayout.InitialCr4 | Cr4.Vmxe | Cr4.Pke),
        Gen.Const(MachineLayout.InitialCr4 | Cr4.Vmxe | Cr4.OsXsave | Cr4.Pke)
    );

    [Fact]
    public void Random_l2_bodies_in_the_round_trip_harness_behave_the_same_under_every_policy() =>
        Gen.Select(GuestCr4, Body).Sample(
            (guestCr4, ops) =>
            {
                var program = RoundTrip.Build(
                    new RoundTripSetup { GuestCr4 = guestCr4 },
                    ObservingHandler,
                    a =>
                    {
                        foreach (var op in ops)
                        {
                            op.Emit(a);
                        }
                        a.vmcall();
                    }
                );
                AssertAgree(program, 5_000);
            },
            iter: 150,
            print: t => $"guest CR4 {t.Item1:x}: {Print(t.Item2)}"
        );
}
