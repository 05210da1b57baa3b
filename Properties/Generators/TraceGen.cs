using CpuidFunctional.Core.Checking;
using CsCheck;

namespace CpuidFunctional.Properties.Generators;

/// <summary>
/// Traces (<see cref="TraceDistribution.Trace"/>, the distribution <c>cpuidf random</c> draws from too) on the
/// suite's hosts (<see cref="HostGen"/>): a VM, KVM_SET_CPUID2 of a guest table, usually KVM_RUN, then one to six
/// segments of up to eight state changes followed by one observation, so many changes can be pending when a
/// consumer looks. Unlike <c>cpuidf random</c>'s fixed length, the number of segments is random, so CsCheck can
/// shrink a failing trace to a short one.
/// </summary>
public static class TraceGen
{
    /// <summary>The kernel profile a trace runs under: 6.18 (XSS feeds 0xD.1) twice as often as 6.15.</summary>
    public static KernelProfile DrawProfile(Draws r) => r.Weighted(2, 1) == 0 ? KernelProfile.Linux6_18 : KernelProfile.Linux6_15;

    /// <summary>The kernel profile (<see cref="DrawProfile"/>).</summary>
    public static readonly Gen<KernelProfile> Profile = DrawsGen.From(DrawProfile);

    /// <summary>Quirks disabled when the VM is created (<see cref="TraceDistribution.InitialQuirks"/>).</summary>
    public static readonly Gen<KvmQuirks> InitialQuirks = DrawsGen.From(TraceDistribution.InitialQuirks);

    /// <summary>Traces on a host from <paramref name="hosts"/>, shaped by <paramref name="shape"/>, without <see cref="MwaitQuirkGuard"/>.</summary>
    public static Gen<EventTrace> On(Gen<HostCpu> hosts, TraceShape shape) =>
        hosts.SelectMany(host => DrawsGen.From(r => TraceDistribution.Trace(r, host, DrawProfile(r), shape), t => t.Events.Count));

    /// <summary>Traces without <see cref="MwaitQuirkGuard"/>: they can contain the real MWAIT-quirk divergence.</summary>
    public static readonly Gen<EventTrace> Unguarded = On(HostGen.Host, new TraceShape.Segments(6));

    /// <summary>The main generator: <see cref="Unguarded"/> with the MWAIT-quirk divergence removed.</summary>
    public static readonly Gen<EventTrace> Trace = Unguarded.Select(MwaitQuirkGuard.Apply);

    /// <summary>
    /// Long pending bursts: one to three segments of 8 to 40 state changes each before their one observation, so a
    /// lazy design has to get many overlapping changes (flips and flips back) right in one materialization.
    /// </summary>
    public static readonly Gen<EventTrace> PendingBursts = On(HostGen.Host, new TraceShape.Segments(3, MinChanges: 8, MaxChanges: 40))
        .Select(MwaitQuirkGuard.Apply);
}
