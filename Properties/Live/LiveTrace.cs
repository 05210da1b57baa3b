using System.Collections.Immutable;

namespace CpuidFunctional.Properties.Live;

/// <summary>A generated live trace: whether the MWAIT quirk and HLT exits are disabled at VM creation, and the steps.</summary>
/// <param name="QuirkDisabledAtCreation">KVM_CAP_DISABLE_QUIRKS2(MISC_ENABLE_NO_MWAIT) before the vCPU exists.</param>
/// <param name="MwaitBitAllowed">Whether IA32_MISC_ENABLE[18] may be set (then the quirk is never disabled; see the generator).</param>
/// <param name="Steps">The steps.</param>
public sealed record LiveTrace(bool QuirkDisabledAtCreation, bool MwaitBitAllowed, ImmutableArray<TraceStep> Steps)
{
    /// <summary>
    /// KVM_CAP_X86_DISABLE_EXITS(HLT) before the vCPU exists, so KVM clears KVM_FEATURE_PV_UNHALT from the tables
    /// (at KVM_SET_CPUID2 from 6.14, in the runtime update on 6.1).
    /// </summary>
    public bool HltExitsDisabledAtCreation { get; init; }

    /// <summary>
    /// KVM_CREATE_IRQCHIP before the vCPU exists: an in-kernel APIC, through which the oracle delivers INIT (the only
    /// traces that draw it). The guest never halts, so the APIC never has to wake it.
    /// </summary>
    public bool InKernelApic { get; init; }

    /// <summary>The quirk mask for the set-up.</summary>
    public ulong DisabledQuirks => QuirkDisabledAtCreation ? LiveInputs.QuirkNoMwait : 0;

    /// <summary>The exits disabled at set-up.</summary>
    public ulong DisabledExits => HltExitsDisabledAtCreation ? DisableExits.Hlt : 0;

    /// <inheritdoc/>
    public override string ToString() =>
        $"quirk disabled at creation: {QuirkDisabledAtCreation}, HLT exits disabled at creation: {HltExitsDisabledAtCreation}, in-kernel APIC: {InKernelApic}, MISC_ENABLE[18] allowed: {MwaitBitAllowed}\n  "
        + string.Join("\n  ", Steps);
}
