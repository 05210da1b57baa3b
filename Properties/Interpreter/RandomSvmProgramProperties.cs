using CpuidFunctional.Interpreter.Machine;
using CsCheck;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace CpuidFunctional.Properties.Interpreter;

/// <summary>
/// Random nested SVM programs on the AMD guest, run under Eager, Lazy and Reference: traces, observations (L1's and
/// L2's), outputs and stop reasons must be equal. A random L1 body runs before the first VMRUN; a random L2 body runs
/// under random CR4 and intercepts (CPUID, MSR_PROT with an empty map, SHUTDOWN, XSETBV). L1's handler executes CPUID 1
/// and 0xD on every #VMEXIT and resumes L2 at next_rip after an intercepted CPUID, XSETBV or MSR access.
/// </summary>
public class RandomSvmProgramProperties
{
    internal static readonly Gen<ulong> Cr4s = Gen.OneOf(
        Gen.Const(MachineLayout.InitialCr4),
        Gen.Const(MachineLayout.InitialCr4 | Cr4.OsXsave),
        Gen.Const(MachineLayout.InitialCr4 | Cr4.Pke),
        Gen.Const(MachineLayout.InitialCr4 | Cr4.OsXsave | Cr4.Pke)
    );

    internal static readonly Gen<uint> Word3 = Gen.OneOf(Gen.Const(0u), Gen.Const(1u << 18), Gen.Const(1u << 28), Gen.Const((1u << 18) | (1u << 28) | (1u << 31)));

    internal static readonly Gen<uint> Word4 = Gen.OneOf(Gen.Const(2u), Gen.Const(2u | (1u << 13)));

    internal static Program Build(ulong l1Cr4, ulong l2Cr4, uint word3, uint word4, GuestOp[] l1Ops, GuestOp[] l2Ops)
    {
        var a = new Assembler(64);
        var l2 = a.CreateLabel();
        var run = a.CreateLabel();
        var resume = a.CreateLabel();
        SvmHarness.EmitSetup(a, l1Cr4, l2Cr4, word3, word4, l2);
        foreach (var op in l1Ops)
        {
            op.Emit(a);
        }
        a.Label(ref run);
        SvmHarness.EmitVmrun(a);
        RandomProgramProperties.EmitCpuid1AndD(a);
        a.mov(rdi, (long)SvmHarness.Vmcb);
        a.mov(eax, __dword_ptr[rdi + 0x70]);
        foreach (var code in (ulong[])[SvmExitCode.Cpuid, SvmExitCode.Xsetbv, SvmExitCode.Msr])
        {
            a.cmp(eax, (int)code);
            a.je(resume);
        }
        a.@out(0x80, eax);
        a.hlt();
        a.Label(ref resume);
        a.mov(rdx, __qword_ptr[rdi + 0xC8]);
        a.mov(__qword_ptr[rdi + 0x578], rdx);
        a.jmp(run);
        a.Label(ref l2);
        foreach (var op in l2Ops)
        {
            op.Emit(a);
        }
        a.vmmcall();
        return RoundTrip.Assemble(a);
    }

    [Fact]
    public void Random_L1_and_L2_bodies_around_VMRUN_behave_the_same_under_every_policy() =>
        Gen.Select(Cr4s, Cr4s, Word3, Word4, RandomProgramProperties.Body, RandomProgramProperties.Body).Sample(
            (l1Cr4, l2Cr4, word3, word4, l1Ops, l2Ops) =>
            {
                var program = Build(l1Cr4, l2Cr4, word3, word4, l1Ops, l2Ops);
                var agreement = Runner.RunAll(Policy.Correct, p => SvmMachine.Boot(program, p), 5_000);
                Assert.True(agreement.Agree, agreement.FirstDifference);
            },
            iter: 200,
            print: t => $"L1 CR4 {t.Item1:x}, L2 CR4 {t.Item2:x}, word3 {t.Item3:x}, word4 {t.Item4:x}; L1: {RandomProgramProperties.Print(t.Item5)}; L2: {RandomProgramProperties.Print(t.Item6)}"
        );

    [Fact]
    public void Random_SVM_programs_reach_L2_and_make_observations_there()
    {
        var reachedL2 = 0;
        var observedInL2 = 0;
        Gen.Select(Cr4s, Cr4s, Word3, Word4, RandomProgramProperties.Body).Sample(
            (l1Cr4, l2Cr4, word3, word4, l2Ops) =>
            {
                var r = Runner.Run(Policy.Eager, SvmMachine.Boot(Build(l1Cr4, l2Cr4, word3, word4, [], l2Ops), Policy.Eager), 5_000);
                reachedL2 += r.Trace.Any(e => e is VcpuEvent.NestedSvmVmrun) ? 1 : 0;
                observedInL2 += r.Observations.Any(o => o is RunObservation.Kvm { Level: 2, Value: Observation.CpuidResult }) ? 1 : 0;
            },
            iter: 100,
            threads: 1
        );
        Assert.Equal(100, reachedL2);
        Assert.True(observedInL2 >= 10, $"only {observedInL2} of 100 programs had L0 answer a CPUID in L2");
    }
}
