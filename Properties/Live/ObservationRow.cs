using CpuidFunctional.Oracle;

namespace CpuidFunctional.Properties.Live;

/// <summary>One event of a trace and what the kernel and the two model policies made of it.</summary>
internal sealed record ObservationRow(int Step, VcpuEvent Event, LiveResult Kernel, Observation? Lazy, Observation? Eager)
{
    /// <summary>The kernel observed something (not unsupported or failed).</summary>
    public Observation? KernelObservation => Kernel is LiveResult.Observed(var o) ? o : null;

    /// <summary>Both policies equal the kernel (after <see cref="LiveComparison.Normalize"/>).</summary>
    public bool Agrees =>
        Kernel is LiveResult.Observed(var k)
        && Equals(LiveComparison.Normalize(k), LiveComparison.Normalize(Lazy))
        && Equals(LiveComparison.Normalize(k), LiveComparison.Normalize(Eager));

    /// <summary>Whether this step showed anything (an observation point on either side).</summary>
    public bool IsObservation => KernelObservation is not null || Lazy is not null || Eager is not null;

    public override string ToString() =>
        Agrees
            ? $"  {Step,3}  {Event}  ->  {Kernel}"
            : $"* {Step,3}  {Event}\n        kernel: {Kernel}\n        Lazy:   {Show(Lazy)}\n        Eager:  {Show(Eager)}";

    private static string Show(Observation? o) => o?.ToString() ?? "-";
}
