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

    /// <summary>The KVM_GET_CPUID2 table has no entry for (leaf, sub-leaf).</summary>
    public sealed record NoEntry(uint Leaf, uint Subleaf) : Expectation;

    /// <summary>RDMSR returned this value.</summary>
    public sealed record MsrValue(ulong Value) : Expectation;

    /// <summary>
    /// The policies saw different things at the last step, as declared (the one real divergence, spec Modelling note 5).
    /// Later expectations check the first policy's observation.
    /// </summary>
    public sealed record PoliciesDiffer : Expectation;
}
