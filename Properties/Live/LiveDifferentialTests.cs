using CpuidFunctional.Core.Cpuid;
using CpuidFunctional.Oracle;
using CsCheck;

namespace CpuidFunctional.Properties.Live;

/// <summary>
/// Random traces over the events this kernel supports, run on the live kernel and on the model (6.18, Lazy and
/// Eager); every observation must be identical. A failure prints the shrunk trace with both sides' values and the
/// CsCheck seed.
/// </summary>
public class LiveDifferentialTests
{
    private const int Traces = 200;

    [Fact]
    public void Model_and_live_kernel_agree_at_every_observation_of_random_traces()
    {
        using var kvm = LiveKernel.OpenOrSkip();
        var caps = kvm.Probe();
        // The generator covers what this kernel offers; if it ever offers more, widen the generator first.
        Assert.False(caps.Pku, "PKU is offered now: add CR4.PKE/OSPKE to the live generator");
        Assert.False(caps.XssSaved, "IA32_XSS is saved now: add XSS writes to the live generator");
        var host = LiveKernel.Host(kvm);
        var supported = LiveKernel.Supported(kvm);
        var traces = 0;
        var observations = 0;

        LiveComparison Run(LiveTrace trace)
        {
            var created = LiveKvmTarget.Create(kvm, supported, trace.DisabledQuirks);
            if (created is IoctlResult<LiveKvmTarget>.Failed f)
            {
                Assert.Fail($"set-up of the live vCPU failed: {f}");
            }
            using var target = ((IoctlResult<LiveKvmTarget>.Ok)created).Value;
            return LiveComparison.Run(target, host, trace.Steps, (step, lazy) => LiveTraceGen.Resolve(step, lazy, target));
        }

        LiveTraceGen.Trace.Sample(
            trace =>
            {
                var c = Run(trace);
                Interlocked.Increment(ref traces);
                Interlocked.Add(ref observations, c.Observations);
                return c.Agrees && c.Rows.All(r => r.Kernel is LiveResult.Observed);
            },
            iter: Traces,
            threads: 1,
            print: trace => trace + "\nrun (disagreeing steps marked '*'):\n" + Run(trace).Report()
        );
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"{traces} traces, {observations} observations compared with Lazy and Eager on {caps.KernelRelease}"
        );
        Assert.True(observations > traces, $"{observations} observations in {traces} traces: the traces observe too little");
    }
}
