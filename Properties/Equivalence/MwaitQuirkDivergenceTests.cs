using CpuidFunctional.Core.Checking;
using CpuidFunctional.Core.Dynamic;
using CpuidFunctional.Properties.Generators;
using CsCheck;

namespace CpuidFunctional.Properties.Equivalence;

/// <summary>
/// Property 6: the one place where real KVM's lazy and eager designs disagree (spec Modelling note 5), which
/// <see cref="MwaitQuirkGuard"/> keeps out of the main generator, and the related Reference-only difference.
/// </summary>
public class MwaitQuirkDivergenceTests(ITestOutputHelper output)
{
    private const ulong Legacy = Cr4.Pae | Cr4.OsFxsr | Cr4.OsXmmExcpt;

    /// <summary>The Intel-like host's leaves with the userspace MWAIT bit clear in leaf 1.</summary>
    private static readonly CpuidTable MwaitClearTable = WithUserspaceMwait(HostGen.IntelLike.Cpuid, set: false);

    private static EventTrace Trace(KernelProfile profile, KvmQuirks disabled, params VcpuEvent[] events) =>
        new(new Vm(HostGen.IntelLike, profile, disabled), new ValueArray<VcpuEvent>([new VcpuEvent.SetCpuid2(MwaitClearTable), new VcpuEvent.Run(), .. events]));

    [Fact]
    public void Disabling_the_mwait_quirk_while_an_update_is_pending_makes_lazy_and_eager_disagree()
    {
        var trace = Trace(
            KernelProfile.Linux6_18,
            KvmQuirks.None,
            new VcpuEvent.MovToCr4(Legacy | Cr4.OsXsave), // a trigger: Lazy now has an update pending
            new VcpuEvent.Wrmsr(Msr.MiscEnable, Msr.MiscEnableDefault | Msr.MiscEnableMwait), // no trigger while the quirk is in effect
            new VcpuEvent.DisableQuirks2((ulong)KvmQuirks.MiscEnableNoMwait), // never a trigger
            new VcpuEvent.Cpuid(1, 0)
        );

        var d = DivergenceAt(5, trace);

        Assert.False(MwaitBit(d.Observations[0]), "Eager keeps the userspace MWAIT bit it had at the trigger");
        Assert.True(MwaitBit(d.Observations[1]), "Lazy samples the quirk at the observation and reports MISC_ENABLE bit 18");
        Assert.True(MwaitBit(d.Observations[2]), "Reference reports MISC_ENABLE bit 18");
    }

    [Fact]
    public void With_no_update_pending_lazy_and_eager_keep_the_stale_bit_but_reference_does_not()
    {
        var trace = Trace(
            KernelProfile.Linux6_18,
            KvmQuirks.None,
            new VcpuEvent.Wrmsr(Msr.MiscEnable, Msr.MiscEnableDefault | Msr.MiscEnableMwait),
            new VcpuEvent.DisableQuirks2((ulong)KvmQuirks.MiscEnableNoMwait),
            new VcpuEvent.Cpuid(1, 0)
        );

        Assert.True(Lockstep.Agree(trace, [Policy.Eager, Policy.Lazy]));
        var d = Lockstep.FirstDivergence(trace, [Policy.Eager, Policy.Reference]);
        Assert.NotNull(d);
        output.WriteLine(d.ToString());
        Assert.False(MwaitBit(d.Observations[0]));
        Assert.True(MwaitBit(d.Observations[1]));
    }

    /// <summary>
    /// 6.15, the first lazy kernel, still assigned the KVM_CAP_DISABLE_QUIRKS2 mask: switching MISC_ENABLE_NO_MWAIT back
    /// on while an update is pending is a second change of the MWAIT rule without a trigger, the other way round. Eager
    /// wrote MISC_ENABLE bit 18 at the trigger; Lazy's pending update no longer writes MWAIT. 6.18 cannot re-enable it.
    /// </summary>
    [Fact]
    public void On_6_15_re_enabling_the_mwait_quirk_while_an_update_is_pending_makes_lazy_and_eager_disagree()
    {
        VcpuEvent[] events =
        [
            new VcpuEvent.Wrmsr(Msr.MiscEnable, Msr.MiscEnableDefault | Msr.MiscEnableMwait), // a trigger while the quirk is off
            new VcpuEvent.DisableQuirks2(0), // 6.15 assigns: the quirk is in effect again, and nothing is marked
            new VcpuEvent.Cpuid(1, 0),
        ];
        var on615 = Trace(KernelProfile.Linux6_15, KvmQuirks.MiscEnableNoMwait, events);

        var d = DivergenceAt(4, on615);

        Assert.True(MwaitBit(d.Observations[0]), "Eager wrote MISC_ENABLE bit 18 at the trigger");
        Assert.False(MwaitBit(d.Observations[1]), "Lazy's update runs with the quirk back in effect and leaves the userspace bit");
        Assert.True(Lockstep.Agree(Trace(KernelProfile.Linux6_18, KvmQuirks.MiscEnableNoMwait, events), Policy.Correct), "6.18 ORs the mask in");
        var guarded = MwaitQuirkGuard.Apply(on615);
        Assert.Equal(new VcpuEvent.DisableQuirks2((ulong)KvmQuirks.MiscEnableNoMwait), guarded.Events[3]);
        Assert.True(Lockstep.Agree(guarded, Policy.Correct));
    }

    [Fact]
    public void Reset_with_the_quirk_off_clears_misc_enable_mwait_without_a_trigger_of_its_own()
    {
        // kvm_vcpu_reset assigns MISC_ENABLE directly (no trigger); in KVM that only happens at vCPU creation, before
        // any table exists. Mid-life in the model (6.18, where RESET's XCR0/XSS writes change nothing here and so do
        // not trigger), Eager and Lazy keep the MWAIT bit computed from the old MISC_ENABLE while Reference recomputes
        // it from the new one: the marker-clear kind of divergence the guard removes.
        var trace = Trace(
            KernelProfile.Linux6_18,
            KvmQuirks.MiscEnableNoMwait,
            new VcpuEvent.Wrmsr(Msr.MiscEnable, Msr.MiscEnableDefault | Msr.MiscEnableMwait),
            new VcpuEvent.Cpuid(1, 0),
            new VcpuEvent.Reset(),
            new VcpuEvent.Cpuid(1, 0)
        );

        Assert.True(Lockstep.Agree(trace, [Policy.Eager, Policy.Lazy]));
        var d = Lockstep.FirstDivergence(trace, [Policy.Eager, Policy.Reference]);

        Assert.NotNull(d);
        output.WriteLine(d.ToString());
        Assert.True(MwaitBit(d.Observations[0]));
        Assert.False(MwaitBit(d.Observations[1]));
        Assert.NotEqual(MwaitQuirkGuard.Apply(trace), trace);
    }

    [Fact]
    public void Without_the_guard_the_generator_finds_the_divergence_and_it_shrinks_to_the_quirk()
    {
        Policy[] policies = [Policy.Eager, Policy.Lazy];
        var failure = Assert.Throws<CsCheckException>(() =>
            TraceGen.Unguarded.Sample(t => Lockstep.Agree(t, policies), iter: Budget.Iter(20_000), print: t => Lockstep.Explain(t, policies, guarded: false))
        );
        output.WriteLine(failure.Message);
        Assert.Matches("KVM_CAP_DISABLE_QUIRKS2 0x[15]0|RESET|quirks disabled at creation: MiscEnableNoMwait", failure.Message);
    }

    [Fact]
    public void The_guard_keeps_every_correct_policy_in_agreement_on_the_same_traces() =>
        TraceGen.Unguarded.Sample(
            t => Lockstep.Agree(MwaitQuirkGuard.Apply(t), Policy.Correct),
            iter: Budget.Iter(5_000),
            print: t => Lockstep.Explain(MwaitQuirkGuard.Apply(t), Policy.Correct)
        );

    /// <summary>The correct policies' first divergence on <paramref name="trace"/>, which must be at event <paramref name="index"/>.</summary>
    private Divergence DivergenceAt(int index, EventTrace trace)
    {
        var d = Lockstep.FirstDivergence(trace, Policy.Correct);
        Assert.NotNull(d);
        output.WriteLine(d.ToString());
        Assert.Equal(index, d.EventIndex);
        return d;
    }

    private static bool MwaitBit(Observation? o) =>
        o is Observation.CpuidResult r ? ((r.Ecx >> DynamicBits.MwaitBit) & 1) != 0 : throw new InvalidOperationException($"not a CPUID answer: {o}");

    private static CpuidTable WithUserspaceMwait(CpuidTable table, bool set)
    {
        var i = table.IndexOfFunction(1);
        return table.SetItem(i, table[i].WithBit(CpuidRegister.Ecx, DynamicBits.MwaitBit, set));
    }
}
