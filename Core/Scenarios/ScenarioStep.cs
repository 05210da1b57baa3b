using CpuidFunctional.Core.State;

namespace CpuidFunctional.Core.Scenarios;

/// <summary>One line of a scenario that does something. A closed union; every case knows its 1-based line.</summary>
public abstract record ScenarioStep
{
    private ScenarioStep() { }

    /// <summary>The line in the scenario file.</summary>
    public abstract int Line { get; init; }

    /// <summary>An event applied to every policy's vCPU.</summary>
    public sealed record Apply(int Line, VcpuEvent Event) : ScenarioStep;

    /// <summary>KVM_SET_CPUID2 of the guest table as the edits so far left it.</summary>
    public sealed record SetCpuid2(int Line) : ScenarioStep;

    /// <summary>KVM_SET_SREGS with this CR4 and, when not given, the APIC base the vCPU has now (as a VMM round-trips it).</summary>
    public sealed record SetSregs(int Line, ulong Cr4, ulong? ApicBase) : ScenarioStep;

    /// <summary>An edit of the guest table (no event).</summary>
    public sealed record Edit(int Line, CpuidEdit Change) : ScenarioStep;

    /// <summary>A check of the previous step's observation.</summary>
    public sealed record Expect(int Line, Expectation Expected, string Text) : ScenarioStep;
}
