using CpuidFunctional.Core.Checking;
using CsCheck;

namespace CpuidFunctional.Properties.Generators;

/// <summary>Guest CPUID tables derived from a host (<see cref="TraceDistribution.GuestTable"/>), as CsCheck generators.</summary>
public static class GuestTableGen
{
    /// <summary>A guest table for a host.</summary>
    public static Gen<CpuidTable> For(HostCpu host) => DrawsGen.From(r => TraceDistribution.GuestTable(r, host), t => t.Count);

    /// <summary>Host and guest table together.</summary>
    public static readonly Gen<(HostCpu Host, CpuidTable Table)> HostAndTable =
        HostGen.Host.SelectMany(host => For(host).Select(table => (host, table)));

    /// <summary>Any guest table (for equality contracts).</summary>
    public static readonly Gen<CpuidTable> Table = HostAndTable.Select(p => p.Table);
}
