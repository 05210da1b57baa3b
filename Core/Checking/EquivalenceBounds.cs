namespace CpuidFunctional.Core.Checking;

/// <summary>How much of each input the equivalence alphabet covers (see <see cref="KvmAlphabet.For"/>).</summary>
public sealed record EquivalenceBounds
{
    /// <summary>Every input in full: all valid XCR0 masks of the host.</summary>
    public static EquivalenceBounds Full { get; } = new();

    /// <summary>
    /// The default test run's bound: XCR0 only along the host's feature chain (x87, +SSE, +AVX, then each further
    /// group added in turn: MPX, AVX-512, PKRU, AMX), which reaches every size the full set of masks can produce
    /// at the chain's ends but not every combination in between; and VMRUN's save.cr4 with neither or both of
    /// OSXSAVE and PKE.
    /// </summary>
    public static EquivalenceBounds Chain { get; } = new() { AllXcr0Masks = false, AllVmrunCr4Values = false };

    /// <summary>All valid XCR0 masks (true) or only the cumulative chain (false).</summary>
    public bool AllXcr0Masks { get; init; } = true;

    /// <summary>
    /// On AMD and Hygon hosts, VMRUN loads every combination of OSXSAVE and PKE (true) or only neither and both (false:
    /// each VMRUN still flips both bits against an L1 CR4 that has the other value, a quarter of the nested states).
    /// </summary>
    public bool AllVmrunCr4Values { get; init; } = true;

    /// <summary>At most this many IA32_XSS values: 0, each supported bit alone, then all of them.</summary>
    public int MaxXssValues { get; init; } = 3;
}
