using CpuidFunctional.Core.Scenarios;

namespace CpuidFunctional.Properties.Scenarios;

/// <summary>
/// KVM_GET_SUPPORTED_CPUID as far as the model knows it (<see cref="SupportedCpuid"/>): the dynamic bits are never
/// advertised, 0xD.0 is the supported XCR0 and its standard size, 0xD.1:EBX the compacted size with the profile's
/// supported XSS, 0x40000000 KVM's signature; a bit the model does not know fails the check instead of guessing.
/// </summary>
public class SupportedCpuidTests
{
    private static ScenarioReport Run(string host, string kernel, string body) =>
        ScenarioRunner.Run(
            Assert.IsType<Result<Scenario>.Ok>(ScenarioParser.Parse($"host {host}\nkernel {kernel}\n{body}\n", "t.scn")).Value,
            HostPresets.All[host]);

    [Theory]
    [InlineData("skylake-sp")]
    [InlineData("genoa")]
    public void The_dynamic_bits_are_never_advertised_and_X2APIC_always_is(string host) =>
        Assert.Null(Run(host, "6.1", "get-supported-cpuid\nexpect supported 1.0 ecx.OSXSAVE=0 ecx.MWAIT=0 ecx.21=1 ecx.26=1 edx.APIC=1\nexpect supported 7.0 ecx.OSPKE=0\nexpect supported 0x40000000.0 eax=0x40000001 ebx=0x4b4d564b").Failure);

    [Fact]
    public void Sapphire_Rapids_reports_its_XCR0_and_the_CET_state_in_0xD_1_only_from_6_18()
    {
        var xcr0 = SupportedCpuid.SupportedXcr0(HostPresets.SapphireRapids);
        var standard = HostPresets.SapphireRapids.Xsave.RequiredSize(xcr0, compacted: false);
        var compacted = HostPresets.SapphireRapids.Xsave.RequiredSize(xcr0, compacted: true);
        var withCet = HostPresets.SapphireRapids.Xsave.RequiredSize(xcr0 | Xss.CetAll, compacted: true);
        Assert.Equal(0x602e7ul, xcr0); // x87 SSE AVX AVX-512 PKRU AMX (tile data counted as permitted)

        Assert.Null(Run("sapphire-rapids", "6.1", $"get-supported-cpuid\nexpect supported 0xd.0 eax=0x{xcr0:x} ebx={standard} ecx={standard}\nexpect supported 0xd.1 ebx={compacted} ecx=0").Failure);
        Assert.Null(Run("sapphire-rapids", "6.18", $"get-supported-cpuid\nexpect supported 0xd.1 ebx={withCet} ecx=0x{Xss.CetAll:x}").Failure);
    }

    [Fact]
    public void MPX_is_in_the_supported_XCR0_on_Skylake_SP_because_the_host_kernel_still_enables_it_for_guests()
    {
        // XFEATURE_MASK_USER_SUPPORTED keeps the MPX pair (6.1 and 6.18), KVM_SUPPORTED_XCR0 lists it, and kvm_intel
        // clears it only without the VMX BNDCFGS controls, which every MPX processor has.
        Assert.Equal(Xcr0.Bndregs | Xcr0.Bndcsr, HostPresets.SkylakeSp.SupportedXcr0 & (Xcr0.Bndregs | Xcr0.Bndcsr));
        Assert.Equal(Xcr0.Bndregs | Xcr0.Bndcsr, SupportedCpuid.SupportedXcr0(HostPresets.SkylakeSp) & (Xcr0.Bndregs | Xcr0.Bndcsr));
        Assert.Null(Run("skylake-sp", "6.18", "get-supported-cpuid\nexpect supported 0xd.0 eax.3=1 eax.4=1").Failure);
        Assert.NotNull(Run("skylake-sp", "6.18", "get-supported-cpuid\nexpect supported 0xd.0 eax.3=0").Failure);
    }

    [Fact]
    public void A_host_XCR0_feature_KVM_cannot_switch_is_not_supported_and_kvm_amd_never_offers_MPX()
    {
        // Bit 62 (AMD's LWP) and bit 19 (APX) are outside KVM_SUPPORTED_XCR0; the MPX pair on an AMD host is dropped by
        // kvm_amd's hardware set-up.
        Assert.Equal(0ul, SupportedCpuid.KvmSupportedXcr0 & ((1ul << 62) | (1ul << 19)));
        Assert.Equal(0x602FFul, SupportedCpuid.KvmSupportedXcr0);
        var amd = HostPresets.All.Values.First(h => h.VendorName == "AuthenticAMD");
        Assert.Equal(0ul, SupportedCpuid.SupportedXcr0(amd) & (Xcr0.Bndregs | Xcr0.Bndcsr));
    }

    [Fact]
    public void A_bit_the_model_does_not_know_fails_with_what_it_knows_and_so_does_a_missing_ioctl()
    {
        var unknown = Run("skylake-sp", "6.18", "get-supported-cpuid\nexpect supported 1.0 eax=0x50654");
        Assert.Contains("the model does not know eax bits 0xffffffff", unknown.Failure?.Message, StringComparison.Ordinal);

        var noIoctl = Run("skylake-sp", "6.18", "guest-cpuid host\nset-cpuid2\nexpect supported 1.0 ecx.OSXSAVE=0");
        Assert.Contains("expected KVM_GET_SUPPORTED_CPUID just before", noIoctl.Failure?.Message, StringComparison.Ordinal);
    }
}
