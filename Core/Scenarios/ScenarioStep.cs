using CpuidFunctional.Core.Model;
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

    /// <summary>KVM_SET_SREGS with these registers; one not given (null) is the value the vCPU has now (as a VMM round-trips it).</summary>
    public sealed record SetSregs(int Line, ulong? Cr0, ulong? Cr4, ulong? Efer, ulong? ApicBase) : ScenarioStep;

    /// <summary>An edit of the guest table (no event).</summary>
    public sealed record Edit(int Line, CpuidEdit Change) : ScenarioStep;

    /// <summary>
    /// A new VM (<c>KVM_CREATE_VM</c>) with one new vCPU on the same host: no quirk disabled, a fresh vCPU, the guest table
    /// back to the host's. <paramref name="Profile"/> is its kernel, or null for the file's.
    /// </summary>
    public sealed record NewVm(int Line, KernelProfile? Profile) : ScenarioStep;

    /// <summary>
    /// <c>KVM_CREATE_VCPU</c> after VM-level steps (the quirks): the VM's vCPU is created now, at RESET
    /// (<c>kvm_arch_vcpu_create</c>, <c>kvm_vcpu_reset(vcpu, false)</c>). Only VM-level steps may come before it.
    /// </summary>
    public sealed record CreateVcpu(int Line) : ScenarioStep;

    /// <summary>KVM_GET_SUPPORTED_CPUID (a system ioctl: the host and the VM's kernel profile answer it, not the vCPU).</summary>
    public sealed record GetSupportedCpuid(int Line) : ScenarioStep;

    /// <summary>
    /// KVM_CHECK_EXTENSION of one of the capabilities the model answers (<see cref="Model.CheckExtension.Known"/>): a
    /// system ioctl, answered by the host and the VM's kernel profile, with the process's AMX permission.
    /// </summary>
    public sealed record CheckExtension(int Line, KvmCapability Capability) : ScenarioStep;

    /// <summary>A check of the previous step's observation.</summary>
    public sealed record Expect(int Line, Expectation Expected, string Text) : ScenarioStep;
}
