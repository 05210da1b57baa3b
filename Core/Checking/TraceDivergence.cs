using System.Globalization;
using System.Text;
using CpuidFunctional.Core.Model;

namespace CpuidFunctional.Core.Checking;

/// <summary>The first event of a trace at which policies made different observations, with what each saw.</summary>
/// <param name="EventIndex">0-based index of the event (scripts number events from 1).</param>
/// <param name="Policies">The policies compared.</param>
/// <param name="Observations">What each policy observed at that event (null: nothing visible).</param>
public sealed record TraceDivergence(int EventIndex, ValueArray<Policy> Policies, ValueArray<Observation?> Observations)
{
    /// <summary>One line per policy with its observation; for KVM_GET_CPUID2 only the entries that differ from the first policy's.</summary>
    public string Describe()
    {
        var sb = new StringBuilder();
        var width = Policies.Max(p => p.ToString().Length);
        var tables = Observations.All(o => o is Observation.Cpuid2);
        for (var i = 0; i < Policies.Count; i++)
        {
            sb.Append(CultureInfo.InvariantCulture, $"  {Policies[i].ToString().PadRight(width)} -> ");
            sb.Append(tables ? TableDifference(i) : Observations[i]?.ToString() ?? "(nothing visible)");
            if (i + 1 < Policies.Count)
            {
                sb.Append('\n');
            }
        }
        return sb.ToString();
    }

    private string TableDifference(int policy)
    {
        var mine = ((Observation.Cpuid2)Observations[policy]!).Table;
        var first = ((Observation.Cpuid2)Observations[0]!).Table;
        if (policy == 0)
        {
            return $"KVM_GET_CPUID2 nent={mine.Count} (entries that differ below)";
        }
        if (mine.Count != first.Count)
        {
            return mine.ToString();
        }
        var sb = new StringBuilder("KVM_GET_CPUID2");
        for (var i = 0; i < mine.Count; i++)
        {
            if (mine[i] != first[i])
            {
                sb.Append(CultureInfo.InvariantCulture, $"\n      entry {i}: {first[i]}  ({Policies[0]})\n      entry {i}: {mine[i]}  ({Policies[policy]})");
            }
        }
        return sb.ToString();
    }

    /// <inheritdoc/>
    public override string ToString() => $"first difference at event {EventIndex + 1}:\n{Describe()}";
}
