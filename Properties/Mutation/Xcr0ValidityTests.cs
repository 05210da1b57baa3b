namespace CpuidFunctional.Properties.Mutation;

/// <summary>
/// Absolute expectations for <see cref="Xcr0.IsValid"/> (<c>__kvm_set_xcr</c>; SDM vol. 1, 13.3): the lock-step
/// properties cannot see a rule that every policy shares, so these pin its answers.
/// </summary>
public class Xcr0ValidityTests
{
    private const ulong Everything = ulong.MaxValue;
    private const ulong Avx = Xcr0.Fp | Xcr0.Sse | Xcr0.Ymm;
    private const ulong XtileCfg = 1ul << 17;
    private const ulong XtileData = 1ul << 18;

    [Fact]
    public void XCR0_with_both_AMX_components_is_valid()
    {
        Assert.True(Xcr0.IsValid(Avx | XtileCfg | XtileData, Everything));
    }

    [Fact]
    public void XCR0_with_only_XTILECFG_or_only_XTILEDATA_is_invalid()
    {
        Assert.False(Xcr0.IsValid(Avx | XtileCfg, Everything));
        Assert.False(Xcr0.IsValid(Avx | XtileData, Everything));
    }

    [Fact]
    public void XCR0_without_AMX_is_valid_when_AMX_is_supported()
    {
        Assert.True(Xcr0.IsValid(Avx, Everything));
    }

    [Fact]
    public void AMX_outside_the_guest_supported_XCR0_is_invalid()
    {
        Assert.False(Xcr0.IsValid(Avx | XtileCfg | XtileData, Avx));
    }
}
