using System.Collections.Immutable;

namespace CpuidFunctional.Properties.Live;

/// <summary>A generated live trace: whether the MWAIT quirk is disabled at VM creation, and the steps.</summary>
/// <param name="QuirkDisabledAtCreation">KVM_CAP_DISABLE_QUIRKS2(MISC_ENABLE_NO_MWAIT) before the vCPU exists.</param>
/// <param name="MwaitBitAllowed">Whether IA32_MISC_ENABLE[18] may be set (then the quirk is never disabled; see the generator).</param>
/// <param name="Steps">The steps.</param>
public sealed record LiveTrace(bool QuirkDisabledAtCreation, bool MwaitBitAllowed, ImmutableArray<TraceStep> Steps)
{
    /// <summary>The quirk mask for the set-up.</summary>
    public ulong DisabledQuirks => QuirkDisabledAtCreation ? LiveInputs.QuirkNoMwait : 0;

    /// <inheritdoc/>
    public override string ToString() =>
        $"quirk disabled at creation: {QuirkDisabledAtCreation}, MISC_ENABLE[18] allowed: {MwaitBitAllowed}\n  "
        + string.Join("\n  ", Steps);
}
