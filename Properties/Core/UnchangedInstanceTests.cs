using static CpuidFunctional.Properties.Core.TestHosts;

namespace CpuidFunctional.Properties.Core;

/// <summary>
/// An event that changes nothing returns the very state it was given (<c>Kvm.Step</c>'s documented shortcut, which
/// the checker's interning and the interpreter's allocation figures rely on); a refused write leaves an equal state.
/// Kept apart from <see cref="PurityTests"/> so that mutation runs, which must leave that class out, include these.
/// </summary>
public class UnchangedInstanceTests
{
    public static TheoryData<string> UnchangedWrites => new() { "MOV CR4 same", "XSETBV same", "WRMSR APIC same", "WRMSR TSX same", "CPL same", "KVM_RUN again", "SET_SREGS same", "SET_XCRS same", "WRMSR XSS same", "WRMSR MISC_ENABLE same", "DISABLE_QUIRKS2 nothing new", "WRMSR MISC_FEATURES_ENABLES same" };

    [Theory]
    [MemberData(nameof(UnchangedWrites))]
    public void Writing_the_current_value_returns_the_same_instance(string write)
    {
        foreach (var policy in Policy.Correct)
        {
            // Sapphire Rapids has IA32_TSX_CTRL (Skylake-SP has no IA32_ARCH_CAPABILITIES, so there the write is refused).
            var s = write == "WRMSR TSX same" ? RunningWithCet(policy) : Running(policy);
            VcpuEvent e = write switch
            {
                "MOV CR4 same" => new VcpuEvent.MovToCr4(s.Vcpu.Cr4),
                "XSETBV same" => new VcpuEvent.Xsetbv(0, s.Vcpu.Xcr0),
                "WRMSR APIC same" => new VcpuEvent.Wrmsr(Msr.ApicBase, s.Vcpu.ApicBase),
                "WRMSR TSX same" => new VcpuEvent.Wrmsr(Msr.TsxCtrl, s.Vcpu.TsxCtrl),
                "CPL same" => new VcpuEvent.SetCpl(s.Vcpu.Cpl),
                "KVM_RUN again" => new VcpuEvent.Run(),
                "SET_SREGS same" => new VcpuEvent.SetSregs(s.Vcpu.Cr4, s.Vcpu.ApicBase),
                // 6.18: an XSS write is a trigger only on a change, so this one reaches Trigger and must not copy.
                "WRMSR XSS same" => new VcpuEvent.Wrmsr(Msr.Xss, s.Vcpu.Xss),
                "WRMSR MISC_ENABLE same" => new VcpuEvent.Wrmsr(Msr.MiscEnable, s.Vcpu.MiscEnable),
                "DISABLE_QUIRKS2 nothing new" => new VcpuEvent.DisableQuirks2((ulong)s.Vm.DisabledQuirks),
                "WRMSR MISC_FEATURES_ENABLES same" => new VcpuEvent.Wrmsr(Msr.MiscFeaturesEnables, s.Vcpu.MiscFeaturesEnables),
                _ => new VcpuEvent.SetXcrs(s.Vcpu.Xcr0),
            };
            var t = Kvm.Step(policy, s, e);
            Assert.False(t.Observation is Observation.Fault or Observation.IoctlError, $"{write} was refused: {t.Observation}");
            Assert.Same(s.Vcpu, t.State.Vcpu);
            Assert.Same(s.Vm, t.State.Vm);
            Assert.Equal(0, t.Effort.RuntimeUpdates);
        }
    }

    [Fact]
    public void An_observation_with_nothing_pending_returns_the_same_instance()
    {
        foreach (var policy in new[] { Policy.Eager, Policy.Lazy })
        {
            var s = Running(policy);
            Assert.Same(s.Vcpu, Kvm.Step(policy, s, new VcpuEvent.Cpuid(1, 0)).State.Vcpu);
            Assert.Same(s.Vcpu, Kvm.Step(policy, s, new VcpuEvent.GetCpuid2(256)).State.Vcpu);
        }
    }

    [Fact]
    public void A_refused_write_changes_nothing()
    {
        var s = Running(Policy.Lazy);
        VcpuEvent[] refused = [new VcpuEvent.Xsetbv(0, 0x5), new VcpuEvent.Wrmsr(0x1234, 1), new VcpuEvent.MovToCr4(1ul << 40), new VcpuEvent.SetXcrs(0), new VcpuEvent.DisableQuirks2(1ul << 40)];
        foreach (var e in refused)
        {
            var t = Kvm.Step(Policy.Lazy, s, e);
            Assert.NotNull(t.Observation);
            Assert.Equal(s, t.State);
        }
    }

    /// <summary>
    /// Before 6.18 every accepted IA32_XSS write is a trigger, so Eager runs <c>kvm_update_cpuid_runtime</c> for a write
    /// of the current value too; with nothing to rewrite, the update returns the very vCPU it was given.
    /// </summary>
    [Fact]
    public void On_6_1_an_Eager_XSS_write_of_the_current_value_runs_the_update_and_returns_the_same_instance()
    {
        var s = Running(Policy.Eager, KernelProfile.Linux6_1);
        var t = Kvm.Step(Policy.Eager, s, new VcpuEvent.Wrmsr(Msr.Xss, s.Vcpu.Xss));
        Assert.Null(t.Observation);
        Assert.Equal(1, t.Effort.RuntimeUpdates);
        Assert.Same(s.Vcpu, t.State.Vcpu);
    }

    /// <summary>The wrong variant <c>ClearMarkerWithoutMaterialize</c> does what its name says: a guest CPUID clears the marker and leaves the table stale.</summary>
    [Fact]
    public void The_wrong_variant_that_clears_the_marker_without_materializing_clears_it()
    {
        var wrong = new Policy(UpdateScheme.Lazy, CpuidFunctional.Core.Checking.WrongRules.ClearMarkerWithoutMaterialize);
        var s = Kvm.Step(wrong, Running(Policy.Lazy), new VcpuEvent.MovToCr4(0)).State;
        Assert.True(s.Vcpu.CpuidDynamicBitsDirty);
        var t = Kvm.Step(wrong, s, new VcpuEvent.Cpuid(1, 0));
        Assert.False(t.State.Vcpu.CpuidDynamicBitsDirty);
        Assert.Equal(s.Vcpu.Cpuid, t.State.Vcpu.Cpuid);
    }
}
