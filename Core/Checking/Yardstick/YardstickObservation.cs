using System.Globalization;
using System.Text;

namespace CpuidFunctional.Core.Checking.Yardstick;

/// <summary>What an observation event shows: the six dynamic fields of the lazy and the eager table, packed.</summary>
/// <param name="Observed">Whether the event was an observation at all.</param>
/// <param name="Lazy">The lazy vCPU's table after it materialized (packed as in <see cref="YardstickState"/>).</param>
/// <param name="Eager">The eager vCPU's table.</param>
/// <param name="Sizes">Size classes to CPUID.0xD.0:EBX / 0xD.1:EBX, for printing.</param>
public readonly record struct YardstickObservation(bool Observed, uint Lazy, uint Eager, YardstickSizes? Sizes)
{
    /// <summary>The lazy and eager fields differ.</summary>
    public bool Differs => Observed && Lazy != Eager;

    /// <summary>Which fields differ, with both values.</summary>
    public string Difference()
    {
        var sb = new StringBuilder();
        Field(sb, "OSXSAVE", YardstickState.TableOsXsave);
        Field(sb, "OSPKE", YardstickState.TableOsPke);
        Field(sb, "APIC", YardstickState.TableApic);
        Field(sb, "MWAIT", YardstickState.TableMwait);
        var lazyClass = (int)(Lazy >> YardstickState.TableSizeShift) & 0xF;
        var eagerClass = (int)(Eager >> YardstickState.TableSizeShift) & 0xF;
        if (lazyClass != eagerClass && Sizes is { } s)
        {
            sb.Append(CultureInfo.InvariantCulture, $"0xD.0:EBX lazy {s.Standard(lazyClass)}, eager {s.Standard(eagerClass)}; ");
            sb.Append(CultureInfo.InvariantCulture, $"0xD.1:EBX lazy {s.Compacted(lazyClass)}, eager {s.Compacted(eagerClass)}; ");
        }
        return sb.ToString().TrimEnd(' ', ';');
    }

    private void Field(StringBuilder sb, string name, uint bit)
    {
        var lazy = (Lazy & bit) != 0 ? 1 : 0;
        var eager = (Eager & bit) != 0 ? 1 : 0;
        if (lazy != eager)
        {
            sb.Append(CultureInfo.InvariantCulture, $"{name}: lazy {lazy}, eager {eager}; ");
        }
    }

    /// <inheritdoc/>
    public override string ToString() => Observed ? (Differs ? "tables differ: " + Difference() : "tables agree") : "";
}
