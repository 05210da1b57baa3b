using CpuidFunctional.Core.Model;

namespace CpuidFunctional.Core.Scenarios;

/// <summary>A parsed scenario file: where it came from, the host, the kernel profile, and the steps in order.</summary>
/// <param name="Source">The file name (for messages).</param>
/// <param name="Host">The host to run on.</param>
/// <param name="Profile">The kernel whose rules apply.</param>
/// <param name="Steps">The steps.</param>
public sealed record Scenario(string Source, HostSpec Host, KernelProfile Profile, ValueArray<ScenarioStep> Steps)
{
    /// <summary>
    /// The wrong variants (by name, resolved by the shell) that this scenario is a regression test for: it passes under
    /// the correct policies and must fail when Lazy runs the variant (<c>caught-by NAME...</c> lines).
    /// </summary>
    public ValueArray<CaughtBy> CaughtBy { get; init; } = ValueArray<CaughtBy>.Empty;

    /// <summary>
    /// Whether the process behind the file's VMs asked for AMX tile data for its guests (<see cref="Vm.XcompGuestPermRequested"/>):
    /// true unless an <c>xcomp-guest-perm none</c> line says otherwise.
    /// </summary>
    public bool XcompGuestPermRequested { get; init; } = true;

    /// <summary>The 1-based line of the <c>host</c> line, for errors the shell finds resolving it.</summary>
    public int HostLine { get; init; }
}

/// <summary>A <c>caught-by</c> entry: the variant's name and the line that names it.</summary>
/// <param name="Line">The 1-based line.</param>
/// <param name="Variant">The wrong variant's name.</param>
public sealed record CaughtBy(int Line, string Variant);
