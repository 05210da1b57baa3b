namespace CpuidFunctional.Bench.Mutable;

/// <summary>What a recorded mutable run made visible, in the functional interpreter's vocabulary (tests compare the two).</summary>
internal sealed class MutableLog
{
    /// <summary>Observations, in order.</summary>
    public List<RunObservation> Observations { get; } = [];

    /// <summary>OUT-reported values, in order.</summary>
    public List<PortOutput> Outputs { get; } = [];
}
