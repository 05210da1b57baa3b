namespace CpuidFunctional.Core.Checking;

/// <summary>
/// The random choices one generated trace is made of: a cursor over 64-bit words that <see cref="TraceDistribution"/>
/// reads in order. <c>cpuidf random</c> reads a <see cref="SplitMix64"/> stream (<see cref="ForItem"/>); the test
/// suite reads CsCheck's generator so that CsCheck can shrink. One instance serves one generation, then is dropped.
/// </summary>
public abstract class Draws
{
    /// <summary>The next 64 random bits.</summary>
    public abstract ulong Next();

    /// <summary>
    /// Uniform in [0, <paramref name="n"/>): the high half of a 64 x 64-bit product (Lemire's multiply-shift). Every
    /// choice among alternatives comes through here, so a source may override it to record the choices (CsCheck's
    /// size of a sample).
    /// </summary>
    public virtual int Below(int n) => (int)Math.BigMul(Next(), (ulong)n, out _);

    /// <summary>Uniform in [<paramref name="min"/>, <paramref name="max"/>], both included.</summary>
    public int Between(int min, int max) => min + Below(max - min + 1);

    /// <summary>An index chosen with the given weights (the first alternatives are the common, simple ones).</summary>
    public int Weighted(params ReadOnlySpan<int> weights)
    {
        var total = 0;
        foreach (var w in weights)
        {
            total += w;
        }
        var x = Below(total);
        for (var i = 0; i < weights.Length; i++)
        {
            x -= weights[i];
            if (x < 0)
            {
                return i;
            }
        }
        throw new System.Diagnostics.UnreachableException();
    }

    /// <summary>One of the choices, uniformly.</summary>
    public T Of<T>(params ReadOnlySpan<T> choices) => choices[Below(choices.Length)];

    /// <summary>The draws of item <paramref name="k"/> of the run with seed <paramref name="seed"/> (<see cref="SplitMix64.ForItem"/>).</summary>
    public static Draws ForItem(ulong seed, long k) => new SplitMixDraws(SplitMix64.ForItem(seed, k));

    private sealed class SplitMixDraws(SplitMix64 start) : Draws
    {
        private SplitMix64 rng = start; // advances with every draw of this one generation

        public override ulong Next()
        {
            (var value, rng) = rng.Next();
            return value;
        }
    }
}
