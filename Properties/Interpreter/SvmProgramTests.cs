using CpuidFunctional.Interpreter.Machine;

namespace CpuidFunctional.Properties.Interpreter;

/// <summary>
/// The nested SVM programs of Properties/Programs (svm-*.asm), in their Iced builds (byte-identical to nasm's, see
/// <see cref="NasmProgramTests"/>), run on an AMD guest under Eager, Lazy and Reference, which must agree on every
/// observation, L1's and L2's.
/// </summary>
public class SvmProgramTests
{
    private const int OsXsave = 27; // CPUID.1:ECX
    private const int OsPke = 4;    // CPUID.7.0:ECX

    private static RunResult Run(Program program)
    {
        var result = SvmMachine.RunAgreeing(program);
        Assert.True(result.Stop is StopReason.Halted, TestMachine.Describe(result));
        return result;
    }

    private static uint[] Out(RunResult r, int level, ushort port) =>
        [.. r.Outputs.Where(o => o.Level == level && o.Port == port).Select(o => o.Value)];

    private static bool Bit(uint value, int bit) => ((value >> bit) & 1) != 0;

    [Fact]
    public void Svm_cr4_osxsave_L1_sees_OSXSAVE_before_and_after_L2_cleared_it()
    {
        var r = Run(Programs.SvmCr4Osxsave());
        Assert.True(Bit(Assert.Single(Out(r, 1, 0x83)), OsXsave));
        Assert.Equal((uint)SvmExitCode.Vmmcall, Assert.Single(Out(r, 1, 0x80)));
        Assert.True(Bit(Assert.Single(Out(r, 1, 0x81)), OsXsave));
        Assert.Equal(2, r.Trace.Count(e => e is VcpuEvent.NestedSvmVmrun or VcpuEvent.NestedSvmVmexit));
    }

    [Fact]
    public void An_intercepted_L2_CPUID_loop_exits_to_L1_every_time_and_L0_answers_nothing_in_L2()
    {
        var r = Run(Workloads.SvmCpuidLoop(10, interceptCpuid: true));
        Assert.Equal(11, r.Trace.Count(e => e is VcpuEvent.NestedSvmVmrun));
        Assert.DoesNotContain(r.Observations, o => o is RunObservation.Kvm { Level: 2 });
        Assert.Equal((uint)SvmExitCode.Vmmcall, Assert.Single(Out(r, 1, 0x80)));
        Assert.Equal(0u, Assert.Single(Out(r, 2, 0x82))); // L1's handler answers nothing: ECX stays 0
        Assert.True(Bit(Assert.Single(Out(r, 1, 0x81)), OsXsave));
    }

    [Fact]
    public void A_non_intercepted_L2_CPUID_loop_is_answered_by_L0_inside_L2_with_L2s_CR4()
    {
        var r = Run(Workloads.SvmCpuidLoop(10, interceptCpuid: false));
        Assert.Equal(1, r.Trace.Count(e => e is VcpuEvent.NestedSvmVmrun));
        var inL2 = r.Observations.OfType<RunObservation.Kvm>().Where(o => o.Level == 2).Select(o => o.Value).ToList();
        Assert.Equal(10, inL2.Count);
        Assert.All(inL2, o => Assert.False(Bit(Assert.IsType<Observation.CpuidResult>(o).Ecx, OsXsave)));
        Assert.False(Bit(Assert.Single(Out(r, 2, 0x82)), OsXsave));
        Assert.True(Bit(Assert.Single(Out(r, 1, 0x81)), OsXsave));
    }

    [Fact]
    public void An_L1_toggling_OSXSAVE_and_PKE_around_VMRUN_sees_its_own_bits_and_L2_sees_its_own()
    {
        var r = Run(Programs.SvmL1Toggle());
        bool[] l1 = [true, false, true, false];
        Assert.Equal(l1, Out(r, 1, 0x83).Select(v => Bit(v, OsXsave)));
        Assert.Equal(l1, Out(r, 1, 0x81).Select(v => Bit(v, OsXsave)));
        Assert.Equal(l1, Out(r, 1, 0x88).Select(v => Bit(v, OsPke)));
        Assert.Equal(l1.Select(b => !b), Out(r, 2, 0x82).Select(v => Bit(v, OsXsave)));
        Assert.Equal(l1.Select(b => !b), Out(r, 2, 0x87).Select(v => Bit(v, OsPke)));
        Assert.Equal((uint)SvmExitCode.Vmmcall, Assert.Single(Out(r, 1, 0x80)));
    }

    [Fact]
    public void The_SVM_half_of_the_2020_bug_shows_in_L2s_own_CPUID_and_the_policies_disagree()
    {
        var program = Programs.SvmL1Toggle();
        var buggy = new Policy(UpdateScheme.Lazy, CpuidFunctional.Core.Checking.WrongRules.VmrunCr4NotTrigger);
        var agreement = Runner.RunAll([Policy.Eager, buggy], p => SvmMachine.Boot(program, p), TestMachine.DefaultSteps);
        Assert.False(agreement.Agree);
        Assert.Contains("L2", agreement.FirstDifference, StringComparison.Ordinal);
    }
}
