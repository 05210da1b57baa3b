using static CpuidFunctional.Properties.Core.TestHosts;

namespace CpuidFunctional.Properties.Core;

/// <summary>The 14 corner cases of the spec's Modelling notes, one test each, named after the case.</summary>
public class CornerCaseTests
{
    /// <summary>Runs the same events under Eager, Lazy and Reference from the same start and returns each observation stream.</summary>
    private static Observation?[][] UnderAllPolicies(Func<Policy, KvmState> start, params VcpuEvent[] events) =>
        [.. Policy.Correct.Select(p => TestHosts.Run(p, start(p), events).Observations)];

    private static void AssertAllAgree(Observation?[][] streams)
    {
        for (var i = 1; i < streams.Length; i++)
        {
            Assert.Equal(streams[0], streams[i]);
        }
    }

    [Fact]
    public void Case01_change_then_change_back_without_observation_recomputes_from_current_state()
    {
        var streams = UnderAllPolicies(
            p => Running(p),
            new VcpuEvent.MovToCr4(0),
            new VcpuEvent.MovToCr4(Cr4.OsXsave),
            new VcpuEvent.MovToCr4(0),
            new VcpuEvent.Cpuid(1, 0),
            new VcpuEvent.MovToCr4(Cr4.OsXsave),
            new VcpuEvent.Xsetbv(0, 0xE7),
            new VcpuEvent.Xsetbv(0, 0x7),
            new VcpuEvent.Wrmsr(Msr.ApicBase, 0xFEE0_0100),
            new VcpuEvent.Wrmsr(Msr.ApicBase, 0xFEE0_0900),
            new VcpuEvent.GetCpuid2(256)
        );
        AssertAllAgree(streams);
        var answer = Assert.IsType<Observation.CpuidResult>(streams[1][3]);
        Assert.False(Bit(answer.Ecx, 27));
    }

    [Fact]
    public void Case02_SET_CPUID2_after_run_while_dirty_succeeds_when_fixed_and_loses_the_update_when_unfixed()
    {
        foreach (var policy in new[] { Policy.Lazy, Policy.LazyUnfixed })
        {
            var s = Running(policy);
            var model = Assert.IsType<Observation.Cpuid2>(Kvm.Step(policy, s, new VcpuEvent.GetCpuid2(256)).Observation).Table;
            var (end, obs) = TestHosts.Run(policy, s, new VcpuEvent.SetSregs(0, s.Vcpu.ApicBase), new VcpuEvent.SetCpuid2(model), new VcpuEvent.Cpuid(1, 0));
            var osxsave = Bit(Assert.IsType<Observation.CpuidResult>(obs[2]).Ecx, 27);
            if (policy == Policy.Lazy)
            {
                Assert.Equal(new Observation.IoctlDone(0), obs[1]);
                Assert.False(osxsave);
            }
            else
            {
                Assert.Equal(new Observation.IoctlError(Errno.EINVAL), obs[1]);
                Assert.True(osxsave, "the unfixed kernel keeps the stale OSXSAVE=1 after CR4.OSXSAVE was cleared");
                Assert.Equal(0ul, end.Vcpu.Cr4);
            }
        }
    }

    [Fact]
    public void Case03_SET_CPUID2_before_first_run_materializes_the_new_table_and_a_failed_set_leaves_the_marker()
    {
        var s = Kvm.Step(Policy.LazyUnfixed, Fresh(Policy.LazyUnfixed), new VcpuEvent.MovToCr4(Cr4.OsXsave)).State;
        Assert.True(s.Vcpu.CpuidDynamicBitsDirty);
        var bad = CpuidTable.Of(SkylakeGuest.Entries.Select(e => e.Function == 0x8000_0008 ? e with { Eax = 0x2A2E } : e));
        var failed = Kvm.Step(Policy.LazyUnfixed, s, new VcpuEvent.SetCpuid2(bad));
        Assert.Equal(new Observation.IoctlError(Errno.EINVAL), failed.Observation);
        Assert.True(failed.State.Vcpu.CpuidDynamicBitsDirty);

        var ok = Kvm.Step(Policy.LazyUnfixed, s, new VcpuEvent.SetCpuid2(SkylakeGuest)).State;
        Assert.False(ok.Vcpu.CpuidDynamicBitsDirty);
        Assert.True(Bit(ok.Vcpu.Cpuid.Find(1, 0)!.Value.Ecx, 27));
    }

    [Fact]
    public void Case04_a_single_unflagged_0xD_entry_takes_both_size_rewrites()
    {
        // One 0xD entry without the significant-index flag: EAX = 0xF (x87|SSE|AVX, and MPX, which this host lacks) has
        // bits 1 and 3, read as XSAVEC and XSAVES by the 0xD.1 rules; ECX = CET_U|CET_S lets userspace set those
        // IA32_XSS bits (the ones 6.18 supports).
        var table = CpuidTable.Of(
            CetGuest.Entries.Where(e => e.Function != 0xD).Append(CpuidEntry.Plain(0xD, 0xF, 0, (uint)Xss.CetAll, 0))
        );
        var s = KvmState.WithCpuid(new Vm(Cet), Policy.Lazy, table);
        var xss = new CpuidFunctional.Core.ValueArray<MsrEntry>([new MsrEntry(Msr.Xss, Xss.CetUser)]);
        s = TestHosts.Run(Policy.Lazy, s, new VcpuEvent.MovToCr4(Cr4.OsXsave), new VcpuEvent.Xsetbv(0, 0x7), new VcpuEvent.SetMsrs(xss)).State;
        Assert.Equal(Xss.CetUser, s.Vcpu.Xss);
        var d0 = Cpuid(Policy.Lazy, ref s, 0xD, 0);
        var d5 = Cpuid(Policy.Lazy, ref s, 0xD, 5);
        // 0xD.0 writes the standard size 0x340, then the 0xD.1 rewrite hits the same entry and writes the compacted
        // size of XCR0|XSS: 0x340 + the CET user component.
        Assert.Equal(0x340u + CetUserCompactedBytes, d0.Ebx);
        Assert.Equal(d0 with { Subleaf = 5 }, d5);
    }

    [Fact]
    public void Case05_disabling_the_quirk_while_an_update_is_pending_makes_lazy_and_eager_differ()
    {
        VcpuEvent[] trace =
        [
            new VcpuEvent.MovToCr4(0),
            new VcpuEvent.Wrmsr(Msr.MiscEnable, Msr.MiscEnableDefault | Msr.MiscEnableMwait),
            new VcpuEvent.DisableQuirks2((ulong)KvmQuirks.MiscEnableNoMwait),
            new VcpuEvent.Cpuid(1, 0),
        ];
        var noMwait = CpuidTable.Of(SkylakeGuest.Entries.Select(e => e.Function == 1 ? e.WithBit(CpuidRegister.Ecx, 3, false) : e));
        KvmState Start(Policy p) => TestHosts.Run(p, KvmState.WithCpuid(Vm(), p, noMwait), new VcpuEvent.Run(), new VcpuEvent.MovToCr4(Cr4.OsXsave), new VcpuEvent.Cpuid(1, 0)).State;

        var lazy = Assert.IsType<Observation.CpuidResult>(TestHosts.Run(Policy.Lazy, Start(Policy.Lazy), trace).Observations[3]);
        var eager = Assert.IsType<Observation.CpuidResult>(TestHosts.Run(Policy.Eager, Start(Policy.Eager), trace).Observations[3]);

        Assert.True(Bit(lazy.Ecx, 3), "lazy samples the quirk at the observation: MWAIT from MISC_ENABLE");
        Assert.False(Bit(eager.Ecx, 3), "eager updated while the quirk was in effect: userspace's MWAIT=0 stays");
    }

    [Fact]
    public void Case06_MISC_ENABLE_MWAIT_writes_never_trigger_while_the_quirk_is_in_effect()
    {
        var s = Running(Policy.Lazy);
        var t = Kvm.Step(Policy.Lazy, s, new VcpuEvent.Wrmsr(Msr.MiscEnable, Msr.MiscEnableDefault | Msr.MiscEnableMwait)).State;
        Assert.False(t.Vcpu.CpuidDynamicBitsDirty);
        var answer = Cpuid(Policy.Lazy, ref t, 1);
        Assert.Equal(Bit(SkylakeGuest.Find(1, 0)!.Value.Ecx, 3), Bit(answer.Ecx, 3));
    }

    [Fact]
    public void Case07_XCR0_changes_in_bits_0_and_1_do_not_trigger_and_XSS_follows_the_profile()
    {
        var s = Running(Policy.Lazy);
        Assert.False(Kvm.Step(Policy.Lazy, s, new VcpuEvent.Xsetbv(0, 0x7)).State.Vcpu.CpuidDynamicBitsDirty);
        var sse = TestHosts.Run(Policy.Lazy, s, new VcpuEvent.Xsetbv(0, 0x1), new VcpuEvent.Cpuid(0, 0), new VcpuEvent.Xsetbv(0, 0x3)).State;
        Assert.False(sse.Vcpu.CpuidDynamicBitsDirty);

        var cet = RunningWithCet(Policy.Lazy);
        var d1Before = Cpuid(Policy.Lazy, ref cet, 0xD, 1).Ebx;
        var with618 = Kvm.Step(Policy.Lazy, cet, new VcpuEvent.Wrmsr(Msr.Xss, Xss.CetUser)).State;
        Assert.Equal(d1Before + CetUserCompactedBytes, Cpuid(Policy.Lazy, ref with618, 0xD, 1).Ebx);

        // 6.15 supports no IA32_XSS bit: CET_U is refused, 0 is accepted and still marks.
        var old = RunningWithCet(Policy.Lazy, KernelProfile.Linux6_15);
        Assert.Equal(new Observation.Fault(X86Exception.GP), Kvm.Step(Policy.Lazy, old, new VcpuEvent.Wrmsr(Msr.Xss, Xss.CetUser)).Observation);
        var with615 = Kvm.Step(Policy.Lazy, old, new VcpuEvent.Wrmsr(Msr.Xss, 0)).State;
        Assert.True(with615.Vcpu.CpuidDynamicBitsDirty);
        Assert.Equal(d1Before, Cpuid(Policy.Lazy, ref with615, 0xD, 1).Ebx);
    }

    [Fact]
    public void Case08_GET_CPUID2_while_L2_runs_reflects_L2_state()
    {
        var streams = UnderAllPolicies(p => Running(p), new VcpuEvent.NestedVmEntry(0), new VcpuEvent.GetCpuid2(256), new VcpuEvent.NestedVmExit(Cr4.OsXsave), new VcpuEvent.GetCpuid2(256));
        AssertAllAgree(streams);
        var inL2 = Assert.IsType<Observation.Cpuid2>(streams[1][1]).Table;
        var inL1 = Assert.IsType<Observation.Cpuid2>(streams[1][3]).Table;
        Assert.False(Bit(inL2.Find(1, 0)!.Value.Ecx, 27));
        Assert.True(Bit(inL1.Find(1, 0)!.Value.Ecx, 27));
    }

    [Fact]
    public void CPUID_in_L2_exits_to_L1_without_a_materialization_and_L1s_CPUID_after_the_exit_sees_L1s_CR4()
    {
        var streams = UnderAllPolicies(
            p => Running(p),
            new VcpuEvent.NestedVmEntry(0),
            new VcpuEvent.Cpuid(1, 0),
            new VcpuEvent.NestedVmExit(Cr4.OsXsave),
            new VcpuEvent.Cpuid(1, 0)
        );
        AssertAllAgree(streams);
        Assert.Equal(new Observation.ExitToL1(Observation.ExitToL1.Cpuid), streams[1][1]);
        Assert.True(Bit(Assert.IsType<Observation.CpuidResult>(streams[1][3]).Ecx, 27));
        var inL2 = Kvm.Step(Policy.Lazy, Kvm.Step(Policy.Lazy, Running(Policy.Lazy), new VcpuEvent.NestedVmEntry(0)).State, new VcpuEvent.Cpuid(1, 0));
        Assert.True(inL2.State.Vcpu.CpuidDynamicBitsDirty); // the CPUID exit is not a consumer: L2's marker stays set
    }

    [Fact]
    public void Case09_nested_transitions_that_keep_OSXSAVE_and_PKE_do_not_mark_and_MSR_lists_do()
    {
        var s = RunningWithCet(Policy.Lazy);
        var entered = Kvm.Step(Policy.Lazy, s, new VcpuEvent.NestedVmEntry(Cr4.OsXsave | Cr4.Pae)).State;
        var exited = Kvm.Step(Policy.Lazy, entered, new VcpuEvent.NestedVmExit(Cr4.OsXsave)).State;
        Assert.False(exited.Vcpu.CpuidDynamicBitsDirty);

        var list = new CpuidFunctional.Core.ValueArray<MsrEntry>([new MsrEntry(Msr.Xss, Xss.CetUser)]);
        var viaList = Kvm.Step(Policy.Lazy, entered, new VcpuEvent.NestedVmExit(Cr4.OsXsave, list)).State;
        Assert.True(viaList.Vcpu.CpuidDynamicBitsDirty);
    }

    [Fact]
    public void Case10_a_faulting_CPUID_does_not_materialize_and_the_next_non_faulting_one_is_current()
    {
        var streams = UnderAllPolicies(
            p => Running(p),
            new VcpuEvent.Wrmsr(Msr.MiscFeaturesEnables, 1),
            new VcpuEvent.MovToCr4(0),
            new VcpuEvent.SetCpl(3),
            new VcpuEvent.Cpuid(1, 0),
            new VcpuEvent.SetCpl(0),
            new VcpuEvent.Cpuid(1, 0)
        );
        AssertAllAgree(streams);
        Assert.Equal(new Observation.Fault(X86Exception.GP), streams[1][3]);
        Assert.False(Bit(Assert.IsType<Observation.CpuidResult>(streams[1][5]).Ecx, 27));
    }

    [Fact]
    public void Case11_out_of_range_leaves_redirect_to_a_current_max_basic_leaf_on_Intel_and_read_zero_on_AMD()
    {
        var maxBasic1 = CpuidTable.Of(
            SkylakeGuest.Entries.Where(e => e.Function is 0 or 1 || e.Function >= 0x8000_0000).Select(e => e.Function == 0 ? e with { Eax = 1 } : e)
        );
        var s = TestHosts.Run(Policy.Lazy, KvmState.WithCpuid(Vm(), Policy.Lazy, maxBasic1), new VcpuEvent.MovToCr4(Cr4.OsXsave)).State;
        var redirected = Cpuid(Policy.Lazy, ref s, 0x4000_0100, 0);
        Assert.True(Bit(redirected.Ecx, 27), "redirected to leaf 1 and its OSXSAVE is current");

        var amd = CpuidTable.Of(maxBasic1.Entries.Select(e => e.Function == 0 ? e with { Ebx = Vendor.Amd.Ebx, Ecx = Vendor.Amd.Ecx, Edx = Vendor.Amd.Edx } : e));
        var a = KvmState.WithCpuid(Vm(), Policy.Lazy, amd);
        Assert.Equal(new Observation.CpuidResult(0x4000_0100, 0, 0, 0, 0, 0), Cpuid(Policy.Lazy, ref a, 0x4000_0100, 0));
    }

    [Fact]
    public void Case12_TSX_CTRL_masking_applies_to_the_answer_but_never_to_the_table()
    {
        var s = RunningWithCet(Policy.Lazy); // Sapphire Rapids: a host with IA32_TSX_CTRL (Skylake-SP has none)
        s = Kvm.Step(Policy.Lazy, s, new VcpuEvent.Wrmsr(Msr.TsxCtrl, 2)).State;
        var answer = Cpuid(Policy.Lazy, ref s, 7, 0);
        var table = Assert.IsType<Observation.Cpuid2>(Kvm.Step(Policy.Lazy, s, new VcpuEvent.GetCpuid2(256)).Observation).Table;
        Assert.False(Bit(answer.Ebx, 11) || Bit(answer.Ebx, 4));
        Assert.True(Bit(table.Find(7, 0)!.Value.Ebx, 11) && Bit(table.Find(7, 0)!.Value.Ebx, 4));
    }

    [Fact]
    public void Case13_creation_leaves_the_marker_set_with_an_empty_table()
    {
        var created = KvmState.Create(Vm(), Policy.Lazy);
        Assert.True(created.Vcpu.CpuidDynamicBitsDirty);
        Assert.Equal(0, created.Vcpu.Cpuid.Count);
        var get = Kvm.Step(Policy.Lazy, created, new VcpuEvent.GetCpuid2(0));
        Assert.Equal(new Observation.Cpuid2(CpuidTable.Empty), get.Observation);
        Assert.False(get.State.Vcpu.CpuidDynamicBitsDirty);
    }

    [Fact]
    public void Case14_SEV_ES_raw_XCR0_feeds_the_size_computation_unvalidated_in_6_15()
    {
        var streams = UnderAllPolicies(p => Running(p, KernelProfile.Linux6_15), new VcpuEvent.SevEsSyncFromGhcb(0x4), new VcpuEvent.Cpuid(0xD, 0));
        AssertAllAgree(streams);
        // 0x4 is not a valid XCR0 (no x87), yet it is taken: AVX alone ends at 0x240 + 0x100.
        Assert.Equal(0x340u, Assert.IsType<Observation.CpuidResult>(streams[0][1]).Ebx);
    }

    /// <summary>
    /// <c>msr_io</c> refuses 256 entries or more (<c>MAX_IO_MSRS</c>) with E2BIG before touching any, for KVM_SET_MSRS
    /// and KVM_GET_MSRS alike; 255 are processed.
    /// </summary>
    [Fact]
    public void KVM_SET_MSRS_and_KVM_GET_MSRS_of_256_entries_are_E2BIG_and_change_nothing()
    {
        var s = Running(Policy.Lazy);
        ValueArray<MsrEntry> Writes(int n) => new([.. Enumerable.Repeat(new MsrEntry(Msr.MiscEnable, Msr.MiscEnableDefault | Msr.MiscEnableMwait), n)]);
        ValueArray<uint> Reads(int n) => new([.. Enumerable.Repeat(Msr.MiscEnable, n)]);

        var tooMany = Kvm.Step(Policy.Lazy, s, new VcpuEvent.SetMsrs(Writes(256)));
        Assert.Equal(new Observation.IoctlError(Errno.E2BIG), tooMany.Observation);
        Assert.Same(s.Vcpu, tooMany.State.Vcpu);
        Assert.Equal(new Observation.IoctlError(Errno.E2BIG), Kvm.Step(Policy.Lazy, s, new VcpuEvent.GetMsrs(Reads(256))).Observation);

        Assert.Equal(new Observation.IoctlDone(255), Kvm.Step(Policy.Lazy, s, new VcpuEvent.SetMsrs(Writes(255))).Observation);
        Assert.Equal(255, Assert.IsType<Observation.Msrs>(Kvm.Step(Policy.Lazy, s, new VcpuEvent.GetMsrs(Reads(255))).Observation).Read.Count);
    }
}
