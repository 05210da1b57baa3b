using CpuidFunctional.Core.Cpuid;
using CpuidFunctional.Core.Model;

namespace CpuidFunctional.Core.Scenarios;

/// <summary>What a scenario expects of the observation of the step before it. A closed union.</summary>
public abstract record Expectation
{
    private Expectation() { }

    /// <summary>Exactly this observation (a fault, an ioctl error, ok N, an MWAIT NOP, a VM-entry failure, a VMX abort) or nothing (null).</summary>
    public sealed record Exactly(Observation? Observation) : Expectation;

    /// <summary>A CPUID answer's register has this value (under <see cref="Mask"/>).</summary>
    public sealed record Register(CpuidRegister Name, uint Mask, uint Value) : Expectation;

    /// <summary>The KVM_GET_CPUID2 table's entry for (leaf, sub-leaf), by KVM's lookup, has this register value (under <see cref="Mask"/>).</summary>
    public sealed record Entry(uint Leaf, uint Subleaf, CpuidRegister Name, uint Mask, uint Value) : Expectation;

    /// <summary>The KVM_GET_CPUID2 table's entry for (leaf, sub-leaf), by KVM's lookup, has these flags.</summary>
    public sealed record EntryFlags(uint Leaf, uint Subleaf, CpuidFlags Flags) : Expectation;

    /// <summary>
    /// The <c>nent</c> KVM_GET_CPUID2 leaves in the caller's header: the table's size on success, the caller's own on
    /// E2BIG (<c>kvm_vcpu_ioctl_get_cpuid2</c> copies the header back only on success).
    /// </summary>
    public sealed record Nent(int Value) : Expectation;

    /// <summary>
    /// KVM_GET_SREGS read these registers; a null field is not checked (set_sregs_test's "KVM didn't change anything"
    /// after a refused KVM_SET_SREGS).
    /// </summary>
    public sealed record Sregs(ulong? Cr0, ulong? Cr4, ulong? Efer, ulong? ApicBase) : Expectation;

    /// <summary>
    /// KVM_GET_SUPPORTED_CPUID's entry for (leaf, sub-leaf) has this register value (under <see cref="Mask"/>), as far as
    /// the model knows it (<see cref="SupportedCpuid"/>); a bit it does not know fails the check.
    /// </summary>
    public sealed record Supported(uint Leaf, uint Subleaf, CpuidRegister Name, uint Mask, uint Value) : Expectation;

    /// <summary>The KVM_GET_CPUID2 table has no entry for (leaf, sub-leaf).</summary>
    public sealed record NoEntry(uint Leaf, uint Subleaf) : Expectation;

    /// <summary>RDMSR returned this value.</summary>
    public sealed record MsrValue(ulong Value) : Expectation;

    /// <summary>
    /// The policies saw different things at the last step, as declared (the real divergences of the MWAIT quirk, spec Modelling note 5).
    /// Later expectations check the first policy's observation.
    /// </summary>
    public sealed record PoliciesDiffer : Expectation;
}
