namespace CpuidFunctional.Core.Checking;

/// <summary>How long a generated trace's body is: segments of state changes, each followed by one observation.</summary>
public abstract record TraceShape
{
    private TraceShape() { }

    /// <summary>
    /// Exactly <paramref name="Length"/> events: segments of zero to eight changes, the last cut to fit
    /// (<c>cpuidf random --length</c>).
    /// </summary>
    public sealed record Events(int Length) : TraceShape;

    /// <summary>
    /// One to <paramref name="MaxSegments"/> segments of <paramref name="MinChanges"/> to <paramref name="MaxChanges"/>
    /// changes each (the test suite's shapes: the length itself is random, so shrinking can shorten it).
    /// </summary>
    public sealed record Segments(int MaxSegments, int MinChanges = 0, int MaxChanges = 8) : TraceShape;
}
