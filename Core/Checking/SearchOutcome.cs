namespace CpuidFunctional.Core.Checking;

/// <summary>How a search ended.</summary>
public enum SearchOutcome
{
    /// <summary>Every reachable state (within the depth bound) was expanded and the invariant held.</summary>
    Complete,

    /// <summary>A transition broke the invariant; the result carries the shortest counterexample.</summary>
    Violated,

    /// <summary>The state bound was reached first: the invariant held on what was explored.</summary>
    StateBoundReached,

    /// <summary>The caller cancelled; the figures are those of the levels completed before (when depends on timing).</summary>
    Cancelled,
}
