using System.Collections.Immutable;
using CpuidFunctional.Bench.Mutable;
using CpuidFunctional.Properties.Generators;
using CsCheck;
using CoreMsr = CpuidFunctional.Core.State.Msr;
using TestHosts = CpuidFunctional.Properties.Core.TestHosts;

namespace CpuidFunctional.Properties.Bench;

/// <summary>
/// The mutable baseline (in-place table, dirty bool, cached guest capabilities) against Core's pure
/// <see cref="Kvm.Step"/>: the same random event traces give the same observation at every step, the same number of
/// runtime updates and XSAVE-size computations, and the same final registers, table and dirty flag.
/// </summary>
public class MutableKvmEquivalenceTests
{
    private static readonly Gen<ulong> Cr4Value = Gen.OneOf(
        0ul, Cr4.OsXsave, Cr4.Pke, Cr4.OsXsave | Cr4.Pke, Cr4.OsXsave | Cr4.Pae, Cr4.Vmxe | Cr4.Pae | Cr4.Pke, 1ul << 15, 1ul << 28,
        Cr4.Pae | Cr4.Pcide, Cr4.Pae | Cr4.Pcide | Cr4.OsXsave);

    // KVM_SET_SREGS's CR0 and EFER: none (kept), real mode, 32-bit protected mode, 64-bit mode; the last needs CR4.PAE.
    private static readonly Gen<(ulong? Cr0, ulong? Efer)> Mode = Gen.OneOf<(ulong?, ulong?)>(
        (null, null), (Cr0.AtReset, 0ul), (Cr0.Pe | Cr0.Et, 0ul), (Cr0.Pe | Cr0.Et | Cr0.Wp | Cr0.Pg, Efer.Lme | Efer.Lma));

    private static readonly Gen<ulong> Xcr0Value = Gen.OneOf(0x1ul, 0x3ul, 0x7ul, 0x1Ful, 0xE7ul, 0x2E7ul, 0x2FFul, 0x5ul, 0x0ul, 0x27ul);

    private static readonly Gen<(uint, ulong)> MsrWrite = Gen.OneOf(
        Gen.OneOf(0ul, 0x100ul, 0x200ul, 0x1ul).Select(v => (CoreMsr.Xss, v)),
        Gen.OneOf(0xFEE0_0900ul, 0xFEE0_0100ul, 0xFEE0_0D00ul, 0xFEE0_0500ul, 0xFEE0_0000ul).Select(v => (CoreMsr.ApicBase, v)),
        Gen.OneOf(CoreMsr.MiscEnableDefault, CoreMsr.MiscEnableDefault | CoreMsr.MiscEnableMwait, 0ul, CoreMsr.MiscEnableEmon).Select(v => (CoreMsr.MiscEnable, v)),
        Gen.OneOf(0ul, 2ul, 4ul).Select(v => (CoreMsr.TsxCtrl, v)),
        Gen.OneOf(0ul, 1ul).Select(v => (CoreMsr.MiscFeaturesEnables, v)),
        Gen.OneOf(0ul, CoreMsr.PlatformInfoCpuidFault).Select(v => (CoreMsr.PlatformInfo, v)),
        Gen.OneOf(0x10ul, 0x123ul).Select(v => (0x3Au, v)),
        // IA32_EFER: what the guest's CPUID allows (SCE, NXE, LME without paging; SVME only on the AMD host), LMA (KVM's
        // own), a reserved bit and bit 63.
        Gen.OneOf(0ul, Efer.Sce, Efer.Sce | Efer.Nxe, Efer.Lme, Efer.Lme | Efer.Lma, Efer.Svme, Efer.Sce | Efer.Svme, 1ul << 1, 1ul << 63)
            .Select(v => (CoreMsr.Efer, v)),
        Gen.Const((CoreMsr.NotKnownToKvm, 0ul)));

    private static readonly Gen<ImmutableArray<MsrEntry>> MsrList =
        MsrWrite.Select(w => new MsrEntry(w.Item1, w.Item2)).Array[0, 3].Select(a => ImmutableArray.Create(a));

    private static readonly Gen<VcpuEvent> Event = Gen.Frequency(
        (4, Cr4Value.Select(v => (VcpuEvent)new VcpuEvent.MovToCr4(v))),
        (3, Xcr0Value.Select(v => (VcpuEvent)new VcpuEvent.Xsetbv(0, v))),
        (4, MsrWrite.Select(w => (VcpuEvent)new VcpuEvent.Wrmsr(w.Item1, w.Item2))),
        (1, Gen.OneOf(CoreMsr.Xss, CoreMsr.ApicBase, CoreMsr.MiscEnable, CoreMsr.PlatformInfo, CoreMsr.TsxCtrl, CoreMsr.Efer, CoreMsr.NotKnownToKvm).Select(i => (VcpuEvent)new VcpuEvent.Rdmsr(i))),
        (1, Gen.OneOf((byte)0, (byte)3).Select(v => (VcpuEvent)new VcpuEvent.SetCpl(v))),
        (1, Gen.Const((VcpuEvent)new VcpuEvent.Init())),
        (2, Gen.Select(Cr4Value, MsrList).Select(t => (VcpuEvent)new VcpuEvent.NestedVmEntry(t.Item1, t.Item2))),
        (2, Gen.Select(Cr4Value, MsrList).Select(t => (VcpuEvent)new VcpuEvent.NestedVmExit(t.Item1, t.Item2))),
        (2, Gen.Select(Cr4Value, Gen.OneOf(0xFEE0_0900ul, 0xFEE0_0100ul, 0xFEE0_0500ul), Mode)
            .Select(t => (VcpuEvent)new VcpuEvent.SetSregs(t.Item1, t.Item2) { Cr0 = t.Item3.Cr0, Efer = t.Item3.Efer })),
        (1, Xcr0Value.Select(v => (VcpuEvent)new VcpuEvent.SetXcrs(v))),
        (1, XcrsGen.List(Xcr0Value).Select(e => (VcpuEvent)e)),
        (1, Gen.OneOf(0ul, 0x10ul, 0x20ul, 0x40ul, 1ul << 20).Select(m => (VcpuEvent)new VcpuEvent.DisableQuirks2(m))),
        // KVM_SET_MSRS and KVM_GET_MSRS: host-initiated, stopping at the first refusal; 256 entries are E2BIG.
        (2, MsrList.Select(l => (VcpuEvent)new VcpuEvent.SetMsrs(new(l)))),
        (1, Gen.OneOf(CoreMsr.Xss, CoreMsr.ApicBase, CoreMsr.MiscEnable, CoreMsr.TsxCtrl, CoreMsr.Efer, CoreMsr.PlatformInfo, CoreMsr.NotKnownToKvm)
            .Array[0, 4].Select(a => (VcpuEvent)new VcpuEvent.GetMsrs(new([.. a])))),
        (1, Gen.OneOf(
            Gen.Const((VcpuEvent)new VcpuEvent.SetMsrs(new([.. Enumerable.Repeat(new MsrEntry(CoreMsr.Xss, 0), Kvm.MaxIoMsrs)]))),
            Gen.Const((VcpuEvent)new VcpuEvent.GetMsrs(new([.. Enumerable.Repeat(CoreMsr.ApicBase, Kvm.MaxIoMsrs)]))))),
        (4, Gen.Select(Gen.OneOf(0u, 1u, 7u, 0xDu, 0xEu, 0x8000_0001u, 0x4000_0100u), Gen.UInt[0, 2]).Select(t => (VcpuEvent)new VcpuEvent.Cpuid(t.Item1, t.Item2))),
        (1, Gen.OneOf(1, 256).Select(n => (VcpuEvent)new VcpuEvent.GetCpuid2(n))),
        (2, Gen.Select(Cr4Value, Gen.OneOf(Vmcb12Intercepts.None, Vmcb12Intercepts.Cpuid, Vmcb12Intercepts.Xsetbv, Vmcb12Intercepts.Cpuid | Vmcb12Intercepts.Xsetbv))
            .Select(t => (VcpuEvent)new VcpuEvent.NestedSvmVmrun(t.Item1, t.Item2))),
        (2, Gen.Const((VcpuEvent)new VcpuEvent.NestedSvmVmexit())));

    // Most traces start with KVM_RUN; some run later or never, so the rules that change at the first run (the feature
    // MSRs' host writes, MSR_PLATFORM_INFO among them) are compared on both sides of it.
    private static readonly Gen<VcpuEvent[]> Trace =
        Gen.Select(Event.Array[1, 40], Gen.Int[0, 3]).Select(t => t.Item2 == 0 ? t.Item1.Append(new VcpuEvent.Run()).ToArray() : t.Item1.Prepend(new VcpuEvent.Run()).ToArray());

    // A VM created with KVM_X86_QUIRK_STUFF_FEATURE_MSRS disabled half the time: its vCPU has no CPUID-faulting support
    // (and no TSX_CTRL for the guest). The host: Genoa one time in five (kvm_amd's rules, no IA32_TSX_CTRL), Skylake-SP
    // (no IA32_ARCH_CAPABILITIES, so no TSX_CTRL either; once with a guest table without XSAVES, whose IA32_XSS only the
    // host may read) or Sapphire Rapids (TSX_CTRL, RTM; once with a guest without XSAVES, whose IA32_XSS the host may
    // still write 0 where KVM lists it, 6.18 with CET); the kernel: 6.15 (quirk masks assigned) or 6.18 (OR-ed in).
    private static readonly Gen<(bool StuffQuirkOff, int Host, bool On615, VcpuEvent[] Trace)> Case =
        Gen.Select(Gen.Bool, Gen.Int[0, 4], Gen.Bool, Trace);

    private static readonly (HostCpu Host, CpuidTable Guest, string Label)[] Hosts =
    [
        (HostPresets.Genoa, HostPresets.Genoa.Cpuid, "genoa"),
        (TestHosts.Skylake, TestHosts.SkylakeGuest, "skylake-sp"),
        (TestHosts.Skylake, TestHosts.WithoutXsaves(TestHosts.SkylakeGuest), "skylake-sp, guest without XSAVES"),
        (TestHosts.Cet, TestHosts.CetGuest, "sapphire-rapids"),
        (TestHosts.Cet, TestHosts.WithoutXsaves(TestHosts.CetGuest), "sapphire-rapids, guest without XSAVES"),
    ];

    private static string Print((bool StuffQuirkOff, int Host, bool On615, VcpuEvent[] Trace) c) =>
        $"STUFF_FEATURE_MSRS disabled at creation: {c.StuffQuirkOff}; host: {Hosts[c.Host].Label}; kernel: {(c.On615 ? "6.15" : "6.18")}\n"
        + string.Join("\n", c.Trace.Select((e, i) => $"{i + 1,3}. {e}"));

    /// <summary>Runs a trace through both; null if they agree, else what differs first.</summary>
    private static string? FirstDifference(Policy policy, MutableMode mode, (bool StuffQuirkOff, int Host, bool On615, VcpuEvent[] Trace) c)
    {
        var trace = c.Trace;
        var (host, guest, _) = Hosts[c.Host];
        var vm = new Vm(host, c.On615 ? KernelProfile.Linux6_15 : KernelProfile.Linux6_18, c.StuffQuirkOff ? KvmQuirks.StuffFeatureMsrs : KvmQuirks.None);
        var state = KvmState.WithCpuid(vm, policy, guest);
        var mutable = new MutableKvm(vm, mode, guest);
        var (updates0, sizes0) = (mutable.RuntimeUpdates, mutable.XstateSizeComputations);
        var effort = default(Effort);
        for (var n = 0; n < trace.Length; n++)
        {
            var t = Kvm.Step(policy, state, trace[n]);
            state = t.State;
            effort += t.Effort;
            var observed = MutableEvents.Apply(mutable, trace[n]);
            if (!Equals(t.Observation, observed))
            {
                return $"{policy} step {n + 1} ({trace[n]}): Core {t.Observation?.ToString() ?? "-"} vs mutable {observed?.ToString() ?? "-"}";
            }
            if (effort.RuntimeUpdates != mutable.RuntimeUpdates - updates0 || effort.XstateSizeComputations != mutable.XstateSizeComputations - sizes0)
            {
                return $"{policy} step {n + 1} ({trace[n]}): Core effort {effort} vs mutable ({mutable.RuntimeUpdates - updates0}, {mutable.XstateSizeComputations - sizes0})";
            }
        }
        var v = state.Vcpu;
        var same = v.Cr4 == mutable.Cr4 && v.Cr0 == mutable.Cr0 && v.Efer == mutable.Efer && v.Xcr0 == mutable.Xcr0 && v.Xss == mutable.Xss && v.ApicBase == mutable.ApicBase
            && v.MiscEnable == mutable.MiscEnable && v.TsxCtrl == mutable.TsxCtrl && v.Cpl == mutable.Cpl
            && v.MiscFeaturesEnables == mutable.MiscFeaturesEnables && v.PlatformInfo == mutable.PlatformInfo
            && v.CpuidDynamicBitsDirty == mutable.Dirty && v.Caps == mutable.Caps && v.Cpuid.Entries.SequenceEqual(mutable.Table);
        return same ? null : $"{policy} final state differs: Core {v.Cpuid} dirty={v.CpuidDynamicBitsDirty} vs mutable dirty={mutable.Dirty}";
    }

    [Fact]
    public void Mutable_eager_matches_Core_eager_on_random_traces() =>
        Case.Sample(
            c => Assert.Null(FirstDifference(Policy.Eager, MutableMode.Eager, c)),
            iter: 1500,
            print: Print);

    [Fact]
    public void Mutable_lazy_matches_Core_lazy_on_random_traces() =>
        Case.Sample(
            c => Assert.Null(FirstDifference(Policy.Lazy, MutableMode.Lazy, c)),
            iter: 1500,
            print: Print);

    [Fact]
    public void Every_event_kind_of_the_generator_is_one_the_baseline_models() =>
        Event.Sample(e => MutableEvents.IsModelled(e), iter: 500);

    [Fact]
    public void The_baseline_refuses_a_VM_with_exits_disabled_rather_than_answer_without_the_PV_UNHALT_rule()
    {
        var vm = TestHosts.Vm() with { DisabledExits = DisableExits.Hlt };
        var e = Assert.Throws<ArgumentException>(() => new MutableKvm(vm, MutableMode.Lazy, TestHosts.SkylakeGuest));
        Assert.Contains("KVM_CAP_X86_DISABLE_EXITS", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_lazy_cr4_flip_costs_no_update_until_cpuid_and_then_exactly_one()
    {
        var mutable = new MutableKvm(TestHosts.Vm(), MutableMode.Lazy, TestHosts.SkylakeGuest);
        var before = mutable.RuntimeUpdates;
        Assert.True(mutable.MovToCr4(Cr4.OsXsave));
        Assert.True(mutable.MovToCr4(0));
        Assert.True(mutable.MovToCr4(Cr4.OsXsave));
        Assert.Equal(before, mutable.RuntimeUpdates);
        Assert.True(mutable.EmulateCpuid(1, 0, out _, out _, out var ecx, out _));
        Assert.Equal(before + 1, mutable.RuntimeUpdates);
        Assert.True(((ecx >> 27) & 1) == 1, "OSXSAVE must read back as set");
    }
}
