using CpuidFunctional.Bench.Measurement;
using CpuidFunctional.Bench.Mutable;
using CpuidFunctional.Interpreter.Decoding;
using CpuidFunctional.Interpreter.Machine;

namespace CpuidFunctional.Properties.Bench;

/// <summary>
/// Every benchmark workload, run by the functional interpreter (Core's Kvm.Step) and by the mutable baseline through
/// the same decode cache, gives the same observation stream (CPUID answers, VMfail results, faults), the same OUT
/// values, the same stop reason, the same instruction and Core-event counts, and the same CPUID-update effort.
/// </summary>
public class WorkloadEquivalenceTests
{
    public static TheoryData<string, string, string> Cases()
    {
        var data = new TheoryData<string, string, string>();
        foreach (var workload in Workloads.Names)
        {
            // SVM workloads run on AMD hosts only, VMX ones on Intel hosts only (Workloads.HostFor).
            foreach (var host in Workloads.IsSvm(workload) ? ["genoa"] : new[] { "skylake-sp", "sapphire-rapids" })
            {
                data.Add(workload, host, "Eager");
                data.Add(workload, host, "Lazy");
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Mutable_baseline_observes_what_the_functional_interpreter_observes(string workload, string hostName, string scheme)
    {
        var host = HostPresets.All[hostName];
        var (policy, mode) = scheme == "Eager" ? (Policy.Eager, MutableMode.Eager) : (Policy.Lazy, MutableMode.Lazy);
        var experiment = new Experiment(workload, host, roundTrips: 5, new DecodeCache());

        var functional = Runner.Run(policy, experiment.BootFunctional(policy), experiment.StepBudget, experiment.Cache);
        var log = new MutableLog();
        var mutable = experiment.BootMutable(mode, log);
        var (updates0, sizes0, events0) = (mutable.Kvm.RuntimeUpdates, mutable.Kvm.XstateSizeComputations, mutable.Kvm.Events);
        var stop = mutable.Run(experiment.StepBudget);

        Assert.IsType<StopReason.Halted>(functional.Stop);
        Assert.Equal(functional.Observations, log.Observations);
        Assert.Equal(functional.Outputs.Items, log.Outputs);
        Assert.Equal(functional.Stop, stop);
        Assert.Equal(functional.Steps, mutable.Steps);
        Assert.Equal(functional.Trace.Count, mutable.Kvm.Events - events0);
        Assert.Equal(functional.Effort.RuntimeUpdates, mutable.Kvm.RuntimeUpdates - updates0);
        Assert.Equal(functional.Effort.XstateSizeComputations, mutable.Kvm.XstateSizeComputations - sizes0);
        Assert.Equal(functional.Final.Kvm.Vcpu.Cpuid.Entries, mutable.Kvm.Table);
    }

    /// <summary>Programs off the benchmark's happy path: VMfail, VM-entry failures, MSR-load lists, an L2 #GP reflected to L1.</summary>
    public static TheoryData<string> OffPathPrograms() =>
        ["vmfail-controls", "invalid-guest-state", "msr-load-lists", "msr-load-refused", "l2-fault", "host-state-changed", "exit-info-fields", "vmxoff-discards", "vmcs-link-pointer", "host-cr0-nw"];

    private static CpuidFunctional.Interpreter.Machine.Program OffPath(string name)
    {
        var cpuidLoop = (Action<Iced.Intel.Assembler>)(a =>
        {
            a.mov(Iced.Intel.AssemblerRegisters.eax, 1);
            a.cpuid();
            a.vmcall();
        });
        if (name == "vmxoff-discards")
        {
            return Interpreter.VmxInstructionTests.VmxoffThenReload(clearFirst: false);
        }
        var handler = (Action<Iced.Intel.Assembler>)(a =>
        {
            var other = a.CreateLabel("other");
            if (name == "exit-info-fields")
            {
                // Each exit reports what it left in the two fields on ports 0x84 and 0x85, then L1 writes its own values.
                Interpreter.NestedTests.EmitReportAndPlantExitInfo(a);
            }
            if (name == "host-state-changed")
            {
                // After an entry that passed the checks, a null HOST_TR_SELECTOR: the VMRESUME must check again (VMfail 8).
                RoundTrip.EmitVmwrite(a, CpuidFunctional.Interpreter.Vmx.VmcsField.HostTrSelector, 0);
            }
            RoundTrip.EmitAdvanceOnCpuidAndResume(a, other);
            a.Label(ref other);
            RoundTrip.EmitReportAndHalt(a);
        });
        var setup = name switch
        {
            "vmfail-controls" => new RoundTripSetup { ExtraProcControls = 1u << 31 },
            "invalid-guest-state" => new RoundTripSetup { GuestCr4 = MachineLayout.InitialCr4 },
            "msr-load-lists" => new RoundTripSetup
            {
                EntryMsrLoad = [new CpuidFunctional.Core.State.MsrEntry(CpuidFunctional.Core.State.Msr.Xss, CpuidFunctional.Core.State.Xss.CetUser)],
                ExitMsrLoad = [new CpuidFunctional.Core.State.MsrEntry(CpuidFunctional.Core.State.Msr.Xss, 0)],
            },
            "msr-load-refused" => new RoundTripSetup { EntryMsrLoad = [new CpuidFunctional.Core.State.MsrEntry(CpuidFunctional.Core.State.Msr.Xss, 0x1)] },
            "vmcs-link-pointer" => new RoundTripSetup { ExtraVmwrites = [(CpuidFunctional.Interpreter.Vmx.VmcsField.VmcsLinkPointer, RoundTrip.EntryMsrList)] },
            "host-cr0-nw" => new RoundTripSetup { ExtraVmwrites = [(CpuidFunctional.Interpreter.Vmx.VmcsField.HostCr0, MachineLayout.InitialCr0 | MachineLayout.Cr0Nw)] },
            _ => new RoundTripSetup { ExceptionBitmap = 1u << 13 },
        };
        return name == "l2-fault"
            ? RoundTrip.Build(setup, handler, a => a.mov(Iced.Intel.AssemblerRegisters.cr0, Iced.Intel.AssemblerRegisters.rax))
            : RoundTrip.Build(setup, handler, cpuidLoop);
    }

    [Theory]
    [MemberData(nameof(OffPathPrograms))]
    public void Off_the_happy_path_both_still_agree(string name)
    {
        foreach (var (policy, mode) in new[] { (Policy.Eager, MutableMode.Eager), (Policy.Lazy, MutableMode.Lazy) })
        {
            // IA32_XSS in the MSR-load lists needs a host with the CET components, the only XSS bits KVM supports.
            var host = name == "msr-load-lists" ? HostPresets.SapphireRapids : HostPresets.SkylakeSp;
            var experiment = new Experiment(name, OffPath(name), host, 1, new DecodeCache());
            var functional = Runner.Run(policy, experiment.BootFunctional(policy), 10_000, experiment.Cache);
            var log = new MutableLog();
            var mutable = experiment.BootMutable(mode, log);
            var stop = mutable.Run(10_000);
            Assert.Equal(functional.Observations, log.Observations);
            Assert.Equal(functional.Outputs.Items, log.Outputs);
            Assert.Equal(functional.Stop, stop);
            Assert.Equal(functional.Steps, mutable.Steps);
            var seen = string.Join("\n", functional.Observations.Select(o => o.ToString()).Concat(functional.Outputs.Items.Select(o => o.ToString())));
            Assert.Contains(ExpectedTrace(name), seen, StringComparison.Ordinal);
        }
    }

    /// <summary>What each off-path program must show, so the test cannot pass on a run that missed the path.</summary>
    private static string ExpectedTrace(string name) =>
        name switch
        {
            "vmfail-controls" => "VMfailValid(7",
            "host-state-changed" => "VMfailValid(8",
            "invalid-guest-state" => "VM-entry failure, exit reason 0x80000021",
            "msr-load-lists" => "out 0x80 <- 0x12",
            "msr-load-refused" => "VM-entry failure: MSR load entry 1",
            "exit-info-fields" => "out 0x84 <- 0x55 ",
            "vmcs-link-pointer" => "exit reason 0x80000021, qualification 4",
            "host-cr0-nw" => "out 0x80 <- 0x12",
            "vmxoff-discards" => "out 0x84 <- 0x0 ",
            _ => "out 0x80 <- 0x0 ",
        };

    /// <summary>
    /// L2 runs a <c>mov eax, 1</c>, then overwrites that instruction's immediate with 0x10 and loops until the sum
    /// reaches 0x11; L1 reports the passes on port 0x83: two when the rewritten instruction is decoded again, seventeen
    /// if a stale decode were kept (the mutable baseline keeps recent instructions by RIP and must drop them when their
    /// page is written).
    /// </summary>
    [Fact]
    public void Code_L2_rewrites_after_running_it_runs_rewritten_in_both()
    {
        var program = RoundTrip.Build(
            new RoundTripSetup(),
            a =>
            {
                a.mov(Iced.Intel.AssemblerRegisters.eax, Iced.Intel.AssemblerRegisters.r13d);
                a.@out(0x83, Iced.Intel.AssemblerRegisters.eax);
                RoundTrip.EmitReportAndHalt(a);
            },
            a =>
            {
                var top = a.CreateLabel("top");
                var site = a.CreateLabel("site");
                a.xor(Iced.Intel.AssemblerRegisters.r12d, Iced.Intel.AssemblerRegisters.r12d);
                a.xor(Iced.Intel.AssemblerRegisters.r13d, Iced.Intel.AssemblerRegisters.r13d);
                a.Label(ref top);
                a.inc(Iced.Intel.AssemblerRegisters.r13d);
                a.Label(ref site);
                a.mov(Iced.Intel.AssemblerRegisters.eax, 1);
                a.add(Iced.Intel.AssemblerRegisters.r12d, Iced.Intel.AssemblerRegisters.eax);
                a.lea(Iced.Intel.AssemblerRegisters.rbx, Iced.Intel.AssemblerRegisters.__[site]);
                a.mov(Iced.Intel.AssemblerRegisters.__dword_ptr[Iced.Intel.AssemblerRegisters.rbx + 1], 0x10);
                a.cmp(Iced.Intel.AssemblerRegisters.r12d, 0x11);
                a.jb(top);
                a.vmcall();
            }
        );
        foreach (var (policy, mode) in new[] { (Policy.Eager, MutableMode.Eager), (Policy.Lazy, MutableMode.Lazy) })
        {
            var experiment = new Experiment("self-modifying", program, HostPresets.SkylakeSp, 1, new DecodeCache());
            var functional = Runner.Run(policy, experiment.BootFunctional(policy), 10_000, experiment.Cache);
            var log = new MutableLog();
            var mutable = experiment.BootMutable(mode, log);
            var stop = mutable.Run(10_000);
            Assert.True(functional.Stop is StopReason.Halted, $"{functional.Stop}");
            Assert.Equal(functional.Stop, stop);
            Assert.Equal(functional.Outputs.Items, log.Outputs);
            Assert.Equal(functional.Steps, mutable.Steps);
            Assert.Equal(2u, log.Outputs.First(o => o.Port == 0x83).Value);
        }
    }

    [Fact]
    public void A_program_that_never_halts_stops_at_the_same_step_limit_in_both()
    {
        var experiment = new Experiment("cpuid-loop", HostPresets.SkylakeSp, roundTrips: 50, new DecodeCache());
        var functional = Runner.Run(Policy.Lazy, experiment.BootFunctional(Policy.Lazy), 300, experiment.Cache);
        var mutable = experiment.BootMutable(MutableMode.Lazy);
        Assert.Equal(new StopReason.StepLimit(300), functional.Stop);
        Assert.Equal(functional.Stop, mutable.Run(300));
    }

    [Theory]
    [InlineData("cpuid-loop", "genoa", "skylake-sp")]
    [InlineData("cpuid-loop", "sapphire-rapids", "sapphire-rapids")]
    [InlineData("svm-cpuid-loop", "skylake-sp", "genoa")]
    [InlineData("svm-cpuid-l0", "genoa", "genoa")]
    public void A_VMX_workload_runs_on_an_Intel_host_and_an_SVM_one_on_an_AMD_host(string workload, string asked, string ran)
    {
        Assert.Same(HostPresets.All[ran], Workloads.HostFor(workload, HostPresets.All[asked]));
    }
}
