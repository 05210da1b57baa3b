namespace CpuidFunctional.Core.Checking;

/// <summary>
/// A SplitMix64 pseudo-random generator as an immutable value (Steele, Lea and Flood, "Fast splittable pseudorandom
/// number generators", OOPSLA 2014): the state advances by a fixed odd constant and each output is a bijective mix of
/// the new state. <see cref="Next"/> returns the value and the generator to use afterwards, so code that draws
/// numbers stays pure and every draw is reproducible from the starting state.
/// </summary>
/// <param name="State">The 64-bit state.</param>
public readonly record struct SplitMix64(ulong State)
{
    /// <summary>The increment: 2^64 divided by the golden ratio, made odd.</summary>
    public const ulong Gamma = 0x9E37_79B9_7F4A_7C15;

    /// <summary>The value and the generator after it.</summary>
    public (ulong Value, SplitMix64 Next) Next()
    {
        var state = State + Gamma;
        return (Mix(state), new SplitMix64(state));
    }

    /// <summary>
    /// The generator of item <paramref name="k"/> of a run with seed <paramref name="seed"/>: a function of the two
    /// only, so any item can be produced on its own (by a shard, or to reproduce one failure).
    /// </summary>
    public static SplitMix64 ForItem(ulong seed, long k) => new(Mix(seed ^ Mix(((ulong)k + 1) * Gamma)));

    /// <summary>SplitMix64's finalizer (a variant of MurmurHash3's): a bijection on 64-bit values that mixes every bit.</summary>
    public static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58_476D_1CE4_E5B9;
        z = (z ^ (z >> 27)) * 0x94D0_49BB_1331_11EB;
        return z ^ (z >> 31);
    }
}
