using CpuidFunctional.Oracle;

namespace CpuidFunctional.Properties.Live;

/// <summary>Which model profile a running kernel's release maps to. Runs everywhere, KVM or not.</summary>
public class LiveKernelIdentityTests
{
    [Theory]
    [InlineData("6.18.44-fc-v1252", KernelProfile.Linux6_18)]
    [InlineData("6.18.0", KernelProfile.Linux6_18)]
    [InlineData("6.19.2-arch1-1", KernelProfile.Linux6_18)]
    [InlineData("7.0.0-rc1", KernelProfile.Linux6_18)]
    [InlineData("6.15.9", KernelProfile.Linux6_15)]
    [InlineData("6.17.1-300.fc43.x86_64", KernelProfile.Linux6_15)]
    [InlineData("6.1.0-57-amd64", KernelProfile.Linux6_1)]
    [InlineData("6.1.158", KernelProfile.Linux6_1)]
    public void A_release_maps_to_the_profile_whose_rules_its_common_code_follows(string release, KernelProfile expected) =>
        Assert.Equal(expected, LiveKernelIdentity.ProfileOf(release));

    [Theory]
    [InlineData("6.14.3")] // eager, but with the 6.14 CPUID overhaul: not 6.1's rules
    [InlineData("6.12.0-rc3")]
    [InlineData("6.10.1")]
    [InlineData("5.15.0-105-generic")]
    [InlineData("")]
    [InlineData("garbage")]
    public void A_release_the_model_has_no_rules_for_maps_to_no_profile(string release) =>
        Assert.Null(LiveKernelIdentity.ProfileOf(release));

    [Fact]
    public void The_update_era_is_eager_on_6_1_and_lazy_from_6_15()
    {
        Assert.Equal(UpdateScheme.Eager, new LiveKernelIdentity("6.1.0-57-amd64", "kvm_amd", KernelProfile.Linux6_1).Era);
        Assert.Equal(UpdateScheme.Lazy, new LiveKernelIdentity("6.15.9", "kvm_intel", KernelProfile.Linux6_15).Era);
        Assert.Equal(UpdateScheme.Lazy, new LiveKernelIdentity("6.18.44-fc-v1252", "kvm_pvm", KernelProfile.Linux6_18).Era);
        Assert.True(new LiveKernelIdentity("6.18.44-fc-v1252", "kvm_pvm", KernelProfile.Linux6_18).IsPvm);
    }
}
