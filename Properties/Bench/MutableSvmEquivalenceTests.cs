using CpuidFunctional.Bench.Measurement;
using CpuidFunctional.Bench.Mutable;
using CpuidFunctional.Interpreter.Decoding;
using CpuidFunctional.Interpreter.Machine;
using CpuidFunctional.Interpreter.Svm;
using CpuidFunctional.Properties.Interpreter;
using CsCheck;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace CpuidFunctional.Properties.Bench;

/// <summary>
/// The mutable baseline's nested SVM (MutableMachine.Svm.cs, MutableKvm.Svm.cs) against the functional interpreter
/// on Genoa, as <see cref="WorkloadEquivalenceTests"/> holds its VMX: the SVM programs, programs off the
/// round trip's happy path (VMEXIT_INVALID, intercepted CR4 write, HLT, I/O and exceptions, shutdown, STGI/CLGI and
/// VMLOAD/VMSAVE, a #GP before VMRUN), and random L1/L2 SVM programs give the same observations, OUT values, stop
/// reason, instruction and Core-event counts, update effort and final table.
/// </summary>
public class MutableSvmEquivalenceTests
{
    private const ulong L1Cr4 = MachineLayout.InitialCr4 | Cr4.OsXsave | Cr4.Pke;

    /// <summary>Runs <paramref name="program"/> in both under Eager and Lazy; null if they agree, else what differs first.</summary>
    private static string? FirstDifference(Program program, long steps = 10_000)
    {
        foreach (var (policy, mode) in new[] { (Policy.Eager, MutableMode.Eager), (Policy.Lazy, MutableMode.Lazy) })
        {
            var experiment = new Experiment("svm", program, HostPresets.Genoa, 1, new DecodeCache());
            var functional = Runner.Run(policy, experiment.BootFunctional(policy), steps, experiment.Cache);
            var log = new MutableLog();
            var mutable = experiment.BootMutable(mode, log);
            var (updates0, sizes0, events0) = (mutable.Kvm.RuntimeUpdates, mutable.Kvm.XstateSizeComputations, mutable.Kvm.Events);
            var stop = mutable.Run(steps);
            (string What, object Functional, object Mutable)[] compared =
            [
                ("observations", string.Join("\n", functional.Observations), string.Join("\n", log.Observations)),
                ("outputs", string.Join("\n", functional.Outputs.Items), string.Join("\n", log.Outputs)),
                ("stop", functional.Stop, stop),
                ("steps", (long)functional.Steps, mutable.Steps),
                ("Core events", (long)functional.Trace.Count, mutable.Kvm.Events - events0),
                ("runtime updates", (long)functional.Effort.RuntimeUpdates, mutable.Kvm.RuntimeUpdates - updates0),
                ("XSAVE sizes", (long)functional.Effort.XstateSizeComputations, mutable.Kvm.XstateSizeComputations - sizes0),
                ("table", string.Join("\n", functional.Final.Kvm.Vcpu.Cpuid.Entries), string.Join("\n", mutable.Kvm.Table)),
            ];
            if (compared.FirstOrDefault(c => !c.Functional.Equals(c.Mutable)) is { What: not null } d)
            {
                return $"{policy}: {d.What} differ:\nfunctional:\n{d.Functional}\nmutable:\n{d.Mutable}";
            }
        }
        return null;
    }

    /// <summary>L1 sets up (then <paramref name="tweak"/> with RDI = vmcb12), VMRUNs, reports the exit code on port 0x80 and halts; L2 runs <paramref name="l2"/>, then VMMCALL.</summary>
    private static Program OneRun(Action<Assembler> l2, uint word3 = 0, Action<Assembler>? tweak = null, ulong l2Cr4 = L1Cr4)
    {
        var a = new Assembler(64);
        var l2Label = a.CreateLabel();
        SvmHarness.EmitSetup(a, L1Cr4, l2Cr4, word3, Vmcb12.InterceptVmmcall, l2Label);
        tweak?.Invoke(a);
        SvmHarness.EmitVmrun(a);
        SvmHarness.EmitReadExitCode(a);
        RoundTrip.EmitReportAndHalt(a);
        a.Label(ref l2Label);
        l2(a);
        a.vmmcall();
        return RoundTrip.Assemble(a);
    }

    public static TheoryData<string> Programs() =>
    [
        "svm-cr4-osxsave", "svm-l1-toggle", "vmexit-invalid", "cr4-write-intercepted", "hlt-intercepted", "io-intercepted",
        "gp-intercepted", "shutdown", "gp-unhandled", "vmmcall-in-l2", "gif-and-vmsave", "vmrun-without-hsave",
    ];

    private static Program Named(string name) =>
        name switch
        {
            "svm-cr4-osxsave" => Interpreter.Programs.SvmCr4Osxsave(),
            "svm-l1-toggle" => Interpreter.Programs.SvmL1Toggle(),
            "vmexit-invalid" => OneRun(_ => { }, tweak: a => a.mov(__dword_ptr[rdi + Vmcb12.AsidOffset], 0)),
            "cr4-write-intercepted" => OneRun(
                a =>
                {
                    a.mov(rax, cr4);
                    a.btr(rax, 22);
                    a.mov(cr4, rax);
                },
                tweak: a => a.mov(__dword_ptr[rdi + Vmcb12.CrInterceptsOffset], 1 << (16 + 4))),
            "hlt-intercepted" => OneRun(a => a.hlt(), word3: Vmcb12.InterceptHlt),
            "io-intercepted" => OneRun(a => a.@out(0x90, eax), word3: Vmcb12.InterceptIoioProt, tweak: a => a.mov(__qword_ptr[rdi + Vmcb12.IopmBasePaOffset], 0x4000_0000)),
            "gp-intercepted" => OneRun(a => a.mov(cr0, rax), tweak: a => a.mov(__dword_ptr[rdi + Vmcb12.ExceptionInterceptsOffset], 1 << 13)),
            "shutdown" => OneRun(a => a.mov(cr0, rax), word3: Vmcb12.InterceptShutdown),
            "gp-unhandled" => OneRun(a => a.mov(cr0, rax)),
            "vmmcall-in-l2" => OneRun(
                a =>
                {
                    a.vmmcall();
                    a.hlt();
                },
                word3: Vmcb12.InterceptHlt,
                tweak: a => a.mov(__dword_ptr[rdi + Vmcb12.Word4Offset], Vmcb12.InterceptVmrun)),
            "gif-and-vmsave" => OneRun(
                _ => { },
                tweak: a =>
                {
                    a.clgi();
                    a.stgi();
                    a.mov(rax, (long)SvmHarness.Vmcb);
                    a.vmsave();
                    a.vmload();
                }),
            _ => OneRun(_ => { }, tweak: a =>
            {
                a.mov(ecx, Msr.VmHsavePa);
                a.xor(eax, eax);
                a.xor(edx, edx);
                a.wrmsr();
            }),
        };

    [Theory]
    [MemberData(nameof(Programs))]
    public void Mutable_baseline_runs_nested_SVM_as_the_functional_interpreter_does(string name)
    {
        var difference = FirstDifference(Named(name));
        Assert.True(difference is null, difference);
    }

    [Fact]
    public void The_off_path_programs_reach_their_paths()
    {
        string Seen(string name)
        {
            var experiment = new Experiment(name, Named(name), HostPresets.Genoa, 1, new DecodeCache());
            var r = Runner.Run(Policy.Eager, experiment.BootFunctional(Policy.Eager), 10_000, experiment.Cache);
            return string.Join("\n", r.Observations.Select(o => o.ToString()).Concat(r.Outputs.Items.Select(o => o.ToString())).Append(r.Stop.ToString()));
        }
        Assert.Contains("out 0x80 <- 0xffffffff", Seen("vmexit-invalid"), StringComparison.Ordinal);
        Assert.Contains("out 0x80 <- 0x14 ", Seen("cr4-write-intercepted"), StringComparison.Ordinal);
        Assert.Contains("out 0x80 <- 0x78 ", Seen("hlt-intercepted"), StringComparison.Ordinal);
        Assert.Contains("out 0x80 <- 0x7b ", Seen("io-intercepted"), StringComparison.Ordinal);
        Assert.Contains("out 0x80 <- 0x4d ", Seen("gp-intercepted"), StringComparison.Ordinal);
        Assert.Contains("out 0x80 <- 0x7f ", Seen("shutdown"), StringComparison.Ordinal);
        Assert.Contains("#GP", Seen("gp-unhandled"), StringComparison.Ordinal);
        Assert.Contains("#UD", Seen("vmmcall-in-l2"), StringComparison.Ordinal); // not intercepted: a #UD in L2 (6.18)
        Assert.Contains("#GP", Seen("vmrun-without-hsave"), StringComparison.Ordinal);
    }

    [Fact]
    public void Random_L1_and_L2_SVM_programs_run_the_same_in_both() =>
        Gen.Select(RandomSvmProgramProperties.Cr4s, RandomSvmProgramProperties.Cr4s, RandomSvmProgramProperties.Word3, RandomSvmProgramProperties.Word4, RandomProgramProperties.Body, RandomProgramProperties.Body).Sample(
            (l1Cr4, l2Cr4, word3, word4, l1Ops, l2Ops) =>
            {
                var difference = FirstDifference(RandomSvmProgramProperties.Build(l1Cr4, l2Cr4, word3, word4, l1Ops, l2Ops), 5_000);
                Assert.True(difference is null, difference);
            },
            iter: 150,
            print: t => $"L1 CR4 {t.Item1:x}, L2 CR4 {t.Item2:x}, word3 {t.Item3:x}, word4 {t.Item4:x}; L1: {RandomProgramProperties.Print(t.Item5)}; L2: {RandomProgramProperties.Print(t.Item6)}"
        );
}
