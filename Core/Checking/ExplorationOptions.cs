namespace CpuidFunctional.Core.Checking;

/// <summary>Bounds and hooks of one exploration. The defaults explore everything on every core, silently and untimed.</summary>
public sealed record ExplorationOptions
{
    /// <summary>The defaults.</summary>
    public static ExplorationOptions Default { get; } = new();

    /// <summary>States at this distance from the initial state are stored but not expanded.</summary>
    public int MaxDepth { get; init; } = int.MaxValue;

    /// <summary>
    /// The search stops after the first level at which this many states are stored (it is level-synchronous, so it
    /// may overshoot by part of one level); the result then says it is incomplete.
    /// </summary>
    public long MaxStates { get; init; } = long.MaxValue;

    /// <summary>Worker threads; 0 lets the thread pool use every core.</summary>
    public int Parallelism { get; init; }

    /// <summary>Called on the calling thread after every completed level.</summary>
    public Action<ExplorationProgress>? Progress { get; init; }

    /// <summary>
    /// The clock used for elapsed time and states per second. Null (the default) keeps the search free of any
    /// clock, and the statistics then carry no time; a shell passes <see cref="TimeProvider.System"/>.
    /// </summary>
    public TimeProvider? Clock { get; init; }
}
