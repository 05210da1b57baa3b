using CpuidFunctional.Core.Model;

namespace CpuidFunctional.Oracle;

/// <summary>What applying one Core event to the live vCPU gave: an observation shaped like the model's, or why not.</summary>
public abstract record LiveResult
{
    private LiveResult() { }

    /// <summary>The kernel handled the event; null where the model also has nothing to observe.</summary>
    /// <param name="Observation">What the kernel showed, in Core's vocabulary.</param>
    public sealed record Observed(Observation? Observation) : LiveResult
    {
        /// <inheritdoc/>
        public override string ToString() => Observation?.ToString() ?? "-";
    }

    /// <summary>The event has no counterpart on this kernel or in this oracle (e.g. SMM without KVM_CAP_X86_SMM).</summary>
    /// <param name="Reason">Why.</param>
    public sealed record Unsupported(string Reason) : LiveResult
    {
        /// <inheritdoc/>
        public override string ToString() => "unsupported: " + Reason;
    }

    /// <summary>The oracle itself failed (an unexpected VM exit, an unexpected exception vector, an ioctl it needs).</summary>
    /// <param name="What">What happened.</param>
    public sealed record Failed(string What) : LiveResult
    {
        /// <inheritdoc/>
        public override string ToString() => "oracle failure: " + What;
    }
}
