using CpuidFunctional.Core.Checking;
using CsCheck;

namespace CpuidFunctional.Properties.Generators;

/// <summary>
/// Core's <see cref="TraceDistribution"/> (the one definition of a random trace, shared with <c>cpuidf random</c>)
/// as CsCheck generators. The <see cref="Draws"/> read CsCheck's PCG, so every sample has a seed that reproduces it,
/// and a sample's size is its length, then the sum of the alternatives chosen: CsCheck's shrinking keeps a failing
/// sample only for a shorter one, or one as long made of more common choices (alternatives come most common first).
/// </summary>
public static class DrawsGen
{
    /// <summary>A generator of what <paramref name="draw"/> makes; <paramref name="length"/> is the size that matters most.</summary>
    public static Gen<T> From<T>(Func<Draws, T> draw, Func<T, int>? length = null) => new DrawsGenerator<T>(draw, length);

    private sealed class DrawsGenerator<T>(Func<Draws, T> draw, Func<T, int>? length) : Gen<T>
    {
        public override T Generate(PCG pcg, Size? min, out Size size)
        {
            var draws = new PcgDraws(pcg);
            var value = draw(draws);
            var chosen = new Size(draws.Chosen);
            size = length is null ? chosen : new Size((ulong)length(value), chosen);
            return value;
        }
    }

    private sealed class PcgDraws(PCG pcg) : Draws
    {
        /// <summary>The sum of every alternative chosen so far (0 is always the first, most common one).</summary>
        public ulong Chosen { get; private set; } // grows with each choice of this one sample

        public override ulong Next() => pcg.Next64();

        public override int Below(int n)
        {
            var choice = base.Below(n);
            Chosen += (ulong)choice;
            return choice;
        }
    }
}
