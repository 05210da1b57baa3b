using CsCheck;

namespace CpuidFunctional.Properties.Equivalence;

/// <summary>
/// Iteration counts for the properties. Each test states its default explicitly; setting the environment variable
/// <c>CsCheck_Iter</c> replaces every default (an explicit <c>iter:</c> would otherwise win over it), and
/// <c>CsCheck_Time</c> (seconds) makes CsCheck run by time instead.
/// </summary>
public static class Budget
{
    private static readonly bool IterFromEnvironment =
        !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("CsCheck_Iter"));

    /// <summary>The default, or <c>CsCheck_Iter</c> when set.</summary>
    public static long Iter(long defaultIterations) => IterFromEnvironment ? Check.Iter : defaultIterations;
}
