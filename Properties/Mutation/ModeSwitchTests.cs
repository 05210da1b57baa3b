using CpuidFunctional.Core.Dynamic;
using static CpuidFunctional.Properties.Core.TestHosts;

namespace CpuidFunctional.Properties.Mutation;

/// <summary>
/// Absolute expectations for the mode switches and the ioctls the kvm shard's mutation run found untested: SMI and RSM
/// (<c>enter_smm</c>, <c>em_rsm</c>), INIT and RESET (<c>kvm_vcpu_reset</c>), the AMD triple fault
/// (<c>shutdown_interception</c>), KVM_SET_CPUID2 under Reference, and a VM entry inside an SVM guest. Every policy
/// runs these rules alike, so only a stated value (not a comparison between policies) can see a wrong one.
/// </summary>
public class ModeSwitchTests
{
    private static Transition Step(Policy policy, KvmState s, VcpuEvent e) => Kvm.Step(policy, s, e);

    private static KvmState After(Policy policy, KvmState s, params VcpuEvent[] events) =>
        events.Aggregate(s, (state, e) => Step(policy, state, e).State);

    /// <summary>CR0 with the INIT value already (ET, CD and NW as at reset) and EFER.LME set: valid with paging off.</summary>
    private static VcpuEvent.SetSregs ResetCr0WithLme(KvmState s) => new(s.Vcpu.Cr4, s.Vcpu.ApicBase) { Cr0 = Cr0.AtReset, Efer = Efer.Lme };

    /// <summary>
    /// An SMI in SMM stays pending (<c>smi_allowed</c> is false there) and is taken as soon as RSM leaves SMM
    /// (<c>kvm_smm_changed</c> requests event processing): the vCPU is back in SMM, having saved the CR4 and CPL RSM
    /// restored; the second RSM returns to them.
    /// </summary>
    [Fact]
    public void An_SMI_in_SMM_stays_pending_and_is_taken_right_after_RSM()
    {
        var s = After(Policy.Lazy, Running(Policy.Lazy), new VcpuEvent.SetCpl(3));
        var inSmm = After(Policy.Lazy, s, new VcpuEvent.EnterSmm());
        Assert.True(inSmm.Vcpu.InSmm);
        Assert.Equal((0ul, (byte)0), (inSmm.Vcpu.Cr4, inSmm.Vcpu.Cpl));

        var pending = After(Policy.Lazy, inSmm, new VcpuEvent.EnterSmm());
        Assert.Equal((true, 0ul, (byte)0), (pending.Vcpu.Rare.SmiPending, pending.Vcpu.Cr4, pending.Vcpu.Cpl));
        Assert.Same(pending.Vcpu, Step(Policy.Lazy, pending, new VcpuEvent.EnterSmm()).State.Vcpu); // one pending SMI

        var again = After(Policy.Lazy, pending, new VcpuEvent.Rsm());
        Assert.Equal((true, false, 0ul, (byte)0), (again.Vcpu.InSmm, again.Vcpu.Rare.SmiPending, again.Vcpu.Cr4, again.Vcpu.Cpl));
        Assert.Equal((Cr4.OsXsave, (byte)3), (again.Vcpu.SmramCr4, again.Vcpu.SmramCpl));

        var back = After(Policy.Lazy, again, new VcpuEvent.Rsm());
        Assert.False(back.Vcpu.InSmm);
        Assert.Equal((Cr4.OsXsave, (byte)3), (back.Vcpu.Cr4, back.Vcpu.Cpl));
    }

    /// <summary>
    /// <c>enter_smm</c> clears CR0's PE, EM, TS and PG and, where the guest has long mode, EFER; RSM loads the CR0 and
    /// EFER saved in SMRAM (<c>rsm_load_state_64</c>). A guest without long mode keeps its EFER in SMM.
    /// </summary>
    [Fact]
    public void SMM_entry_clears_CR0_PE_EM_TS_PG_and_a_long_mode_guests_EFER_and_RSM_restores_both()
    {
        const ulong cr0 = Cr0.Pe | Cr0.Em | Cr0.Ts | Cr0.Et | Cr0.Cd | Cr0.Pg;
        const ulong cr4 = Cr4.OsXsave | Cr4.Pae;
        var sregs = new VcpuEvent.SetSregs(cr4, Msr.ApicBaseDefault) { Cr0 = cr0, Efer = Efer.Lme | Efer.Lma };
        var s = After(Policy.Lazy, Running(Policy.Lazy), sregs);
        Assert.True(GuestFeature.Lm.In(s.Vcpu.Cpuid));
        Assert.Equal((cr0, Efer.Lme | Efer.Lma), (s.Vcpu.Cr0, s.Vcpu.Efer));
        var smm = After(Policy.Lazy, s, new VcpuEvent.EnterSmm());
        Assert.Equal((Cr0.Et | Cr0.Cd, 0ul), (smm.Vcpu.Cr0, smm.Vcpu.Efer));
        var back = After(Policy.Lazy, smm, new VcpuEvent.Rsm());
        Assert.Equal((cr0, Efer.Lme | Efer.Lma, cr4), (back.Vcpu.Cr0, back.Vcpu.Efer, back.Vcpu.Cr4));

        var noLm = CpuidTable.Of(SkylakeGuest.Entries.Select(e => e.Function == 0x8000_0001 ? e.WithBit(CpuidRegister.Edx, 29, false) : e));
        var legacySregs = new VcpuEvent.SetSregs(Cr4.OsXsave, Msr.ApicBaseDefault) { Cr0 = Cr0.Pe | Cr0.Et, Efer = Efer.Lme };
        var legacy = After(Policy.Lazy, KvmState.WithCpuid(Vm(), Policy.Lazy, noLm), new VcpuEvent.Run(), legacySregs, new VcpuEvent.EnterSmm());
        Assert.Equal((Cr0.Et, Efer.Lme), (legacy.Vcpu.Cr0, legacy.Vcpu.Efer));
    }

    /// <summary>
    /// INIT is blocked in SMM (<c>kvm_vcpu_latch_init</c>) but stays latched: nothing else changes until RSM, after
    /// which <c>kvm_apic_accept_events</c> resets the vCPU (CR0 ET, EFER and CR4 0), and that reset drops a pending SMI.
    /// </summary>
    [Fact]
    public void INIT_is_latched_in_SMM_and_taken_after_RSM_before_a_pending_SMI()
    {
        var s = After(Policy.Eager, Running(Policy.Eager), new VcpuEvent.SetSregs(Cr4.OsXsave, Msr.ApicBaseDefault) { Cr0 = Cr0.Pe | Cr0.Et, Efer = Efer.Lme }, new VcpuEvent.EnterSmm());
        var latched = After(Policy.Eager, s, new VcpuEvent.Init());
        Assert.Equal(s.Vcpu with { Rare = s.Vcpu.Rare with { InitPending = true } }, latched.Vcpu);

        var init = After(Policy.Eager, latched, new VcpuEvent.EnterSmm(), new VcpuEvent.Rsm());
        Assert.Equal((false, false, false), (init.Vcpu.InSmm, init.Vcpu.Rare.InitPending, init.Vcpu.Rare.SmiPending));
        Assert.Equal((Cr0.Et, 0ul, 0ul), (init.Vcpu.Cr0, init.Vcpu.Efer, init.Vcpu.Cr4));
    }

    [Fact]
    public void INIT_at_CPL_3_sets_CPL_0_and_clears_EFER_even_when_CR0_already_has_its_INIT_value()
    {
        var s = After(Policy.Lazy, Running(Policy.Lazy), ResetCr0WithLme(Running(Policy.Lazy)), new VcpuEvent.SetCpl(3));
        Assert.Equal((Efer.Lme, (byte)3), (s.Vcpu.Efer, s.Vcpu.Cpl));

        var init = After(Policy.Lazy, s, new VcpuEvent.Init());
        Assert.Equal(((byte)0, Cr0.AtReset, 0ul, 0ul), (init.Vcpu.Cpl, init.Vcpu.Cr0, init.Vcpu.Efer, init.Vcpu.Cr4));
    }

    [Fact]
    public void RESET_leaves_SMM_and_clears_EFER_even_when_CR0_already_has_its_reset_value()
    {
        var s = After(Policy.Lazy, Running(Policy.Lazy), ResetCr0WithLme(Running(Policy.Lazy)), new VcpuEvent.EnterSmm());
        Assert.True(s.Vcpu.InSmm);

        var reset = After(Policy.Lazy, s, new VcpuEvent.Reset());
        Assert.False(reset.Vcpu.InSmm);
        Assert.Equal((Cr0.AtReset, 0ul), (reset.Vcpu.Cr0, reset.Vcpu.Efer));
    }

    [Fact]
    public void INIT_RESET_and_an_AMD_triple_fault_of_a_vCPU_in_its_reset_state_return_the_same_instance()
    {
        foreach (var policy in Policy.Correct)
        {
            var fresh = Fresh(policy);
            Assert.Same(fresh.Vcpu, Step(policy, fresh, new VcpuEvent.Init()).State.Vcpu);
            Assert.Same(fresh.Vcpu, Step(policy, fresh, new VcpuEvent.Reset()).State.Vcpu);

            var amd = KvmState.WithCpuid(new Vm(HostPresets.All["genoa"]), policy, HostPresets.All["genoa"].Cpuid);
            var shutdown = Step(policy, amd, new VcpuEvent.TripleFault());
            Assert.IsType<Observation.ExitShutdown>(shutdown.Observation);
            Assert.Same(amd.Vcpu, shutdown.State.Vcpu);
        }
    }

    /// <summary>
    /// A VMX exit on an AMD host keeps the SVM state (a trace that mixes the vendors), so L1 runs with nested state
    /// outside guest mode; the triple fault's INIT leaves nested operation and drops it.
    /// </summary>
    [Fact]
    public void An_AMD_triple_fault_drops_nested_state_that_L1_holds_outside_guest_mode()
    {
        var genoa = HostPresets.All["genoa"];
        var s = After(
            Policy.Lazy,
            KvmState.WithCpuid(new Vm(genoa), Policy.Lazy, genoa.Cpuid),
            new VcpuEvent.Run(),
            new VcpuEvent.NestedSvmVmrun(Cr4.Pae, Vmcb12Intercepts.None),
            new VcpuEvent.NestedVmExit(0, default)
        );
        Assert.False(s.Vcpu.GuestMode);
        Assert.NotNull(s.Vcpu.Nested);

        var shutdown = Step(Policy.Lazy, s, new VcpuEvent.TripleFault());
        Assert.IsType<Observation.ExitShutdown>(shutdown.Observation);
        Assert.Null(shutdown.State.Vcpu.Nested);
    }

    [Fact]
    public void A_VM_entry_inside_an_SVM_guest_keeps_the_SVM_state_unless_L1_owns_a_CR4_bit()
    {
        var svm = After(Policy.Lazy, Running(Policy.Lazy), new VcpuEvent.NestedSvmVmrun(Cr4.Pae, Vmcb12Intercepts.None));
        var saved = svm.Vcpu.Svm;
        Assert.NotNull(saved);

        var unowned = After(Policy.Lazy, svm, new VcpuEvent.NestedVmEntry(Cr4.Pae, default));
        Assert.Equal(saved, unowned.Vcpu.Svm);

        var owned = After(Policy.Lazy, svm, new VcpuEvent.NestedVmEntry(Cr4.Pae, default) { Cr4GuestHostMask = Cr4.OsXsave, Cr4ReadShadow = Cr4.OsXsave });
        Assert.Equal(Cr4.OsXsave, Assert.IsType<NestedVmx>(owned.Vcpu.Nested).Cr4GuestHostMask);
    }

    /// <summary>Reference stores KVM_SET_CPUID2's table as given and computes the dynamic bits only when observed.</summary>
    [Fact]
    public void Under_Reference_KVM_SET_CPUID2_stores_the_table_as_given_and_runs_no_update()
    {
        var s = Fresh(Policy.Reference);
        var t = Step(Policy.Reference, s, new VcpuEvent.SetCpuid2(SkylakeGuest));
        Assert.Equal(new Observation.IoctlDone(0), t.Observation);
        Assert.Equal(SkylakeGuest, t.State.Vcpu.Cpuid);
        Assert.Equal(0, t.Effort.RuntimeUpdates);
        Assert.NotEqual(SkylakeGuest, Assert.IsType<Observation.Cpuid2>(Step(Policy.Reference, t.State, new VcpuEvent.GetCpuid2(256)).Observation).Table);
    }

    /// <summary><c>kvm_cpuid_check_equal</c> after KVM_RUN installs nothing under Reference; a refusal changes nothing when nothing was pending.</summary>
    [Fact]
    public void KVM_SET_CPUID2_after_KVM_RUN_leaves_the_vCPU_as_it_was_under_Reference_and_when_refused()
    {
        var reference = Running(Policy.Reference);
        var same = Step(Policy.Reference, reference, new VcpuEvent.SetCpuid2(SkylakeGuest));
        Assert.Equal(new Observation.IoctlDone(0), same.Observation);
        Assert.Same(reference.Vcpu, same.State.Vcpu);

        var other = SkylakeGuest.SetItem(0, SkylakeGuest[0] with { Ebx = SkylakeGuest[0].Ebx ^ 1 });
        foreach (var policy in Policy.Correct)
        {
            var s = Running(policy);
            Assert.False(s.Vcpu.CpuidDynamicBitsDirty);
            var refused = Step(policy, s, new VcpuEvent.SetCpuid2(other));
            Assert.Equal(new Observation.IoctlError(Errno.EINVAL), refused.Observation);
            Assert.Same(s.Vcpu, refused.State.Vcpu);
        }
    }

    /// <summary>6.1's <c>kvm_set_msr_common</c>: a guest write of IA32_XSS needs XSAVES even for 0; the host's does not.</summary>
    [Fact]
    public void On_6_1_a_guest_write_of_IA32_XSS_without_XSAVES_is_a_GP_even_for_0_and_the_hosts_is_accepted()
    {
        var table = WithoutXsaves(SkylakeGuest);
        var s = After(Policy.Lazy, KvmState.WithCpuid(Vm(KernelProfile.Linux6_1), Policy.Lazy, table), new VcpuEvent.Run());

        Assert.Equal(new Observation.Fault(X86Exception.GP), Step(Policy.Lazy, s, new VcpuEvent.Wrmsr(Msr.Xss, 0)).Observation);
        Assert.Equal(new Observation.IoctlDone(1), Step(Policy.Lazy, s, new VcpuEvent.SetMsrs(new([new MsrEntry(Msr.Xss, 0)]))).Observation);
    }
}
