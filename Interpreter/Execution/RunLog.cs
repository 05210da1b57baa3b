using CpuidFunctional.Core.Model;
using CpuidFunctional.Core.State;

namespace CpuidFunctional.Interpreter;

/// <summary>
/// What one run accumulates: a builder local to <see cref="Runner.Run"/>, frozen into the <see cref="RunResult"/> at
/// the end (the logs are appended to during the run and never shared).
/// </summary>
internal sealed class RunLog(Policy policy)
{
    public Policy Policy { get; } = policy;

    public SegmentedLog<VcpuEvent> Trace { get; } = new();

    public SegmentedLog<RunObservation> Observations { get; } = new();

    public SegmentedLog<PortOutput> Outputs { get; } = new();

    /// <summary>Value-equal Core events and observations reused within the run.</summary>
    public EventCache Events { get; } = new();

    // Mutable: the vmcs12 chunk spine (Vmcs12.ChunkIdentity) and static guest capabilities whose VM-entry control and
    // host-state checks last passed; replaced after each full check. Those checks read nothing else, and the spine
    // is immutable (a write to a chunked field makes a new one), so an equal key means an equal result.
    public (object? Chunks, GuestCaps Guest) CheckedEntry { get; set; }

    // Summed over the run's Kvm.Step calls.
    public Effort Effort { get; set; }
}
