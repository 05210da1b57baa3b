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

    // Summed over the run's Kvm.Step calls.
    public Effort Effort { get; set; }
}
