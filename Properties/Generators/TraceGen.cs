using System.Collections.Immutable;
using CpuidFunctional.Core;
using CpuidFunctional.Core.Cpuid;
using CpuidFunctional.Core.Host;
using CpuidFunctional.Core.Model;
using CpuidFunctional.Core.State;
using CsCheck;

namespace CpuidFunctional.Properties.Generators;

/// <summary>
/// Traces: a VM, KVM_SET_CPUID2 of a guest table, usually KVM_RUN, then segments of up to eight state changes
/// followed by one observation, so many changes can be pending when a consumer looks.
/// </summary>
public static class TraceGen
{
    /// <summary>The kernel profile: 6.18 (XSS feeds 0xD.1) more often than 6.15.</summary>
    public static readonly Gen<KernelProfile> Profile = Gen.Frequency((2, Gen.Const(KernelProfile.Linux6_18)), (1, Gen.Const(KernelProfile.Linux6_15)));

    /// <summary>Quirks disabled when the VM is created.</summary>
    public static readonly Gen<KvmQuirks> InitialQuirks = Gen.Frequency(
        (6, Gen.Const(KvmQuirks.None)),
        (1, Gen.Const(KvmQuirks.MiscEnableNoMwait)),
        (1, Gen.Const(KvmQuirks.MwaitNeverUdFaults)),
        (1, Gen.Const(KvmQuirks.MiscEnableNoMwait | KvmQuirks.MwaitNeverUdFaults))
    );

    /// <summary>Whether KVM_RUN follows the initial KVM_SET_CPUID2.</summary>
    public static readonly Gen<bool> RunFirst = Gen.Frequency((4, Gen.Const(true)), (1, Gen.Const(false)));

    /// <summary>Traces without <see cref="MwaitQuirkGuard"/>: they can contain the real MWAIT-quirk divergence.</summary>
    public static readonly Gen<KvmTrace> Unguarded = GuestTableGen.HostAndTable.SelectMany((host, table) => For(host, table, 6));

    /// <summary>The main generator: <see cref="Unguarded"/> with the MWAIT-quirk divergence removed.</summary>
    public static readonly Gen<KvmTrace> Trace = Unguarded.Select(MwaitQuirkGuard.Apply);

    /// <summary>
    /// Long pending bursts: two or three segments of 8 to 40 state changes each before their one observation, so a
    /// lazy design has to get many overlapping changes (flips and flips back) right in one materialization.
    /// </summary>
    public static readonly Gen<KvmTrace> PendingBursts = GuestTableGen.HostAndTable
        .SelectMany((host, table) => For(host, table, 3, minMutations: 8, maxMutations: 40))
        .Select(MwaitQuirkGuard.Apply);

    /// <summary>A segment: state changes, then an observation.</summary>
    public static Gen<VcpuEvent[]> Segment(Gen<VcpuEvent> mutation, Gen<VcpuEvent> observation, int minMutations = 0, int maxMutations = 8) =>
        Gen.Select(mutation.Array[minMutations, maxMutations], observation, (m, o) => (VcpuEvent[])[.. m, o]);

    /// <summary>Traces for one host and guest table with up to <paramref name="segments"/> segments.</summary>
    public static Gen<KvmTrace> For(HostCpu host, CpuidTable table, int segments, int minMutations = 0, int maxMutations = 8) =>
        Gen.Select(
            Profile,
            InitialQuirks,
            RunFirst,
            Segment(EventGen.Mutation(host, table), EventGen.Observation, minMutations, maxMutations).Array[1, segments],
            (profile, quirks, run, body) => Assemble(new Vm(host, profile, quirks), table, run, body)
        );

    /// <summary>Puts a trace together: KVM_SET_CPUID2, optionally KVM_RUN, then the segments in order.</summary>
    public static KvmTrace Assemble(Vm vm, CpuidTable table, bool run, VcpuEvent[][] body)
    {
        var events = ImmutableArray.CreateBuilder<VcpuEvent>();
        events.Add(new VcpuEvent.SetCpuid2(table));
        if (run)
        {
            events.Add(new VcpuEvent.Run());
        }
        foreach (var segment in body)
        {
            events.AddRange(segment);
        }
        return new KvmTrace(vm, new ValueArray<VcpuEvent>(events.ToImmutable()));
    }
}
