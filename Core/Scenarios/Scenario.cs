using CpuidFunctional.Core.Model;

namespace CpuidFunctional.Core.Scenarios;

/// <summary>A parsed scenario file: where it came from, the host, the kernel profile, and the steps in order.</summary>
/// <param name="Source">The file name (for messages).</param>
/// <param name="Host">The host to run on.</param>
/// <param name="Profile">The kernel whose rules apply.</param>
/// <param name="Steps">The steps.</param>
public sealed record Scenario(string Source, HostSpec Host, KernelProfile Profile, ValueArray<ScenarioStep> Steps);
