using CpuidFunctional.Core.Model;
using CpuidFunctional.Core.State;

namespace CpuidFunctional.Interpreter;

/// <summary>
/// What one run accumulates: a builder local to <see cref="Runner.Run"/>, frozen into the <see cref="RunResult"/> at
/// the end (the lists are appended to during the run and never shared).
/// </summary>
internal sealed class RunLog(Policy policy)
{
    public Policy Policy { get; } = policy;

    public List<VcpuEvent> Trace { get; } = [];

    public List<RunObservation> Observations { get; } = [];

    public List<PortOutput> Outputs { get; } = [];

    // Summed over the run's Kvm.Step calls.
    public Effort Effort { get; set; }
}
