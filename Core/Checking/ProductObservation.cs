using System.Text;
using CpuidFunctional.Core.Model;

namespace CpuidFunctional.Core.Checking;

/// <summary>What one event made visible under each policy (null: nothing to see).</summary>
/// <param name="Observations">One per policy, in the configuration's order.</param>
public readonly record struct ProductObservation(ValueArray<Observation?> Observations)
{
    /// <summary>Whether every policy saw the same thing.</summary>
    public bool Agree
    {
        get
        {
            var items = Observations.Items;
            for (var i = 1; i < items.Length; i++)
            {
                if (!Equals(items[i], items[0]))
                {
                    return false;
                }
            }
            return true;
        }
    }

    /// <summary>Each policy's observation, one per line.</summary>
    public string Describe(IReadOnlyList<Policy> policies)
    {
        var sb = new StringBuilder();
        for (var i = 0; i < Observations.Count; i++)
        {
            sb.Append('\n').Append("    ").Append(policies[i]).Append(": ").Append(Observations[i]?.ToString() ?? "(nothing)");
        }
        return sb.ToString();
    }

    /// <inheritdoc/>
    public override string ToString() =>
        Observations.Count == 0 || Observations.Items.All(o => o is null) ? "" : Agree ? Observations[0]?.ToString() ?? "" : "policies differ";
}
