using System.Collections.Immutable;
using CpuidFunctional.Core.Host;
using CpuidFunctional.Core.Model;

namespace CpuidFunctional.Core.Checking;

/// <summary>
/// Random traces for <c>cpuidf random</c>, drawn from a <see cref="SplitMix64"/> so that trace k of a run is a
/// function of (seed, k) and the generator's settings only: any trace can be regenerated alone, and a run can be split
/// over machines by k. A trace's VM is a host and a kernel from the given lists; the rest is
/// <see cref="TraceDistribution"/> (the test suite's generators draw from the same), with a body of exactly
/// <see cref="Length"/> events. The <see cref="MwaitQuirkRule"/> is applied last, so the three correct policies must
/// agree on every trace.
/// </summary>
public sealed class RandomTraceGenerator
{
    /// <summary>The default number of events after KVM_SET_CPUID2 and KVM_RUN.</summary>
    public const int DefaultLength = 40;

    /// <summary>A generator over these hosts and kernel profiles, with <paramref name="length"/> events per trace body.</summary>
    /// <exception cref="ArgumentException">No host, no profile, or a length below 1.</exception>
    public RandomTraceGenerator(IReadOnlyList<HostCpu> hosts, IReadOnlyList<KernelProfile> profiles, int length = DefaultLength)
    {
        if (hosts.Count == 0 || profiles.Count == 0 || length < 1)
        {
            throw new ArgumentException("a generator needs at least one host, one kernel profile and a length of at least 1");
        }
        Hosts = [.. hosts];
        Profiles = [.. profiles];
        Length = length;
    }

    /// <summary>The hosts a trace's VM is drawn from.</summary>
    public ImmutableArray<HostCpu> Hosts { get; }

    /// <summary>The kernel profiles a trace's VM is drawn from.</summary>
    public ImmutableArray<KernelProfile> Profiles { get; }

    /// <summary>Events after the initial KVM_SET_CPUID2 and KVM_RUN (fewer if the MWAIT-quirk rule drops some); the last is an observation.</summary>
    public int Length { get; }

    /// <summary>Trace <paramref name="k"/> of the run with seed <paramref name="seed"/>.</summary>
    public EventTrace Generate(ulong seed, long k)
    {
        var r = Draws.ForItem(seed, k);
        var host = Hosts[r.Below(Hosts.Length)];
        var profile = Profiles[r.Below(Profiles.Length)];
        var trace = TraceDistribution.Trace(r, host, profile, new TraceShape.Events(Length));
        return trace with { Events = MwaitQuirkRule.Apply(trace.Vm, trace.Events) };
    }
}
