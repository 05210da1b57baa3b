using CpuidFunctional.Bench.Measurement;
using CpuidFunctional.Bench.Mutable;
using CpuidFunctional.Core.Host;
using CpuidFunctional.Core.Model;
using CpuidFunctional.Interpreter;

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
            foreach (var host in new[] { "skylake-sp", "sapphire-rapids", "genoa" })
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
        Assert.Equal(functional.Observations.Items, log.Observations);
        Assert.Equal(functional.Outputs.Items, log.Outputs);
        Assert.Equal(functional.Stop, stop);
        Assert.Equal(functional.Steps, mutable.Steps);
        Assert.Equal(functional.Trace.Count, mutable.Kvm.Events - events0);
        Assert.Equal(functional.Effort.RuntimeUpdates, mutable.Kvm.RuntimeUpdates - updates0);
        Assert.Equal(functional.Effort.XstateSizeComputations, mutable.Kvm.XstateSizeComputations - sizes0);
        Assert.Equal(functional.Final.Kvm.Vcpu.Cpuid.Entries, mutable.Kvm.Table);
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
}
