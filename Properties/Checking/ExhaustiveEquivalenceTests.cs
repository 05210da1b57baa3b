using CpuidFunctional.Core.Checking;

namespace CpuidFunctional.Properties.Checking;

/// <summary>
/// Issue 4 item 4: for each host, the whole reachable abstract state space of the real <see cref="Kvm.Step"/> under
/// Eager, Lazy and Reference in lock-step, with equal observations on every event in every state.
/// </summary>
public class ExhaustiveEquivalenceTests(ITestOutputHelper output)
{
    public static TheoryData<string> Hosts => new(CpuidFunctional.Core.Host.HostPresets.Presets.Select(p => p.Host).Select(h => h.Name));

    private static HostCpu Host(string name) => CpuidFunctional.Core.Host.HostPresets.Presets.Select(p => p.Host).Single(h => h.Name == name);

    private ExplorationResult<ProductState, VcpuEvent, ProductObservation> Explore(CheckConfiguration configuration, EquivalenceBounds bounds)
    {
        var model = new KvmEquivalenceModel(configuration, KvmAlphabet.For(configuration, bounds));
        var result = model.Explore(new ExplorationOptions { Clock = TimeProvider.System }, TestContext.Current.CancellationToken);
        output.WriteLine($"{configuration.Vm.Host.Name} {configuration.Vm.Profile}, {model.Alphabet.Count} events: {result}");
        return result;
    }

    [Theory]
    [MemberData(nameof(Hosts))]
    public void Eager_lazy_and_reference_agree_in_every_reachable_state_under_6_15(string host)
    {
        // In 6.15 IA32_XSS feeds no output, only the trigger: writes of 0 exercise that, so one value suffices here.
        var result = Explore(CheckConfiguration.FromHost(Host(host), KernelProfile.Linux6_15), EquivalenceBounds.Chain with { MaxXssValues = 1 });

        Assert.Equal(SearchOutcome.Complete, result.Outcome);
        Assert.True(result.Statistics.States > 1_000, $"suspiciously small state space: {result.Statistics}");
    }

    [Theory]
    [MemberData(nameof(Hosts))]
    public void Eager_lazy_and_reference_agree_in_every_reachable_state_under_6_18(string host)
    {
        // 6.18 folds IA32_XSS into 0xD.1:EBX, so each XSS value multiplies the space: the default run takes 0 and one bit.
        var result = Explore(
            CheckConfiguration.FromHost(Host(host), KernelProfile.Linux6_18),
            EquivalenceBounds.Chain with { MaxXssValues = 2 }
        );

        Assert.Equal(SearchOutcome.Complete, result.Outcome);
        Assert.True(result.Statistics.States > 1_000, $"suspiciously small state space: {result.Statistics}");
    }

    [Fact]
    public void LazyUnfixed_is_caught_with_the_two_step_KVM_SET_CPUID2_counterexample()
    {
        var configuration = CheckConfiguration.FromHost(CpuidFunctional.Core.Host.HostPresets.SkylakeSp, KernelProfile.Linux6_15).WithPolicies(Policy.Eager, Policy.LazyUnfixed);

        var result = Explore(configuration, EquivalenceBounds.Chain);

        Assert.Equal(SearchOutcome.Violated, result.Outcome);
        var trace = result.Counterexample!;
        Assert.Equal(2, trace.Steps.Count);
        Assert.Equal(new VcpuEvent.MovToCr4(Cr4.OsXsave), trace.Steps[0].Event);
        Assert.IsType<VcpuEvent.SetCpuid2>(trace.Steps[1].Event);
        Assert.Equal(
            [new Observation.IoctlDone(0), new Observation.IoctlError(Errno.EINVAL)],
            trace.Steps[1].Observation.Observations.Items
        );
    }

    [Fact]
    public void Only_AMD_and_Hygon_hosts_get_VMRUN_with_the_CPUID_intercept_on_and_off_and_VMEXIT()
    {
        VcpuEvent[] Svm(HostCpu host) =>
            [.. KvmAlphabet.For(CheckConfiguration.FromHost(host, KernelProfile.Linux6_18)).Where(e => e is VcpuEvent.NestedSvmVmrun or VcpuEvent.NestedSvmVmexit)];

        Assert.Empty(Svm(CpuidFunctional.Core.Host.HostPresets.SkylakeSp));
        var genoa = Svm(CpuidFunctional.Core.Host.HostPresets.Genoa);
        Assert.Equal(2 * KvmAlphabet.Cr4Values.Length + 1, genoa.Length);
        Assert.Contains(new VcpuEvent.NestedSvmVmrun(Cr4.OsXsave, Vmcb12Intercepts.None), genoa);
        Assert.Contains(new VcpuEvent.NestedSvmVmrun(Cr4.OsXsave, Vmcb12Intercepts.Cpuid), genoa);
        Assert.Contains(new VcpuEvent.NestedSvmVmexit(), genoa);
        var chain = KvmAlphabet.For(CheckConfiguration.FromHost(CpuidFunctional.Core.Host.HostPresets.Genoa, KernelProfile.Linux6_18), EquivalenceBounds.Chain);
        Assert.Equal(5, chain.Count(e => e is VcpuEvent.NestedSvmVmrun or VcpuEvent.NestedSvmVmexit));
    }

    [Fact]
    public void VmrunCr4NotTrigger_is_caught_on_an_AMD_host_by_a_VMRUN_and_an_observation()
    {
        var buggy = new Policy(UpdateScheme.Lazy, WrongRules.VmrunCr4NotTrigger);
        var configuration = CheckConfiguration.FromHost(CpuidFunctional.Core.Host.HostPresets.Genoa, KernelProfile.Linux6_18).WithPolicies(Policy.Eager, buggy);

        var result = Explore(configuration, EquivalenceBounds.Chain);

        Assert.Equal(SearchOutcome.Violated, result.Outcome);
        var trace = result.Counterexample!;
        Assert.Equal(2, trace.Steps.Count);
        Assert.IsType<VcpuEvent.NestedSvmVmrun>(trace.Steps[0].Event);
    }
}
