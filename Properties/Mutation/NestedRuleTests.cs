using CpuidFunctional.Core.Dynamic;
using CpuidFunctional.Core.Host;

namespace CpuidFunctional.Properties.Mutation;

/// <summary>
/// Absolute expectations for Kvm.cs's nested predicates that every policy shares, so that the lock-step properties
/// cannot see them: one row per case of the kernel function each test names (svm.c and nested.c of 6.18). Stryker's
/// mutants of these predicates survived the kvm shard without them.
/// </summary>
public class NestedRuleTests
{
    private const uint NripsBit = 1u << 3; // CPUID 0x8000000A:EDX[3]

    private static CpuidTable Table(bool nrips) =>
        CpuidTable.Of(
            CpuidEntry.Plain(0, 0x10, Vendor.Amd.Ebx, Vendor.Amd.Ecx, Vendor.Amd.Edx),
            CpuidEntry.Plain(0x8000_0000, 0x8000_000A, Vendor.Amd.Ebx, Vendor.Amd.Ecx, Vendor.Amd.Edx),
            CpuidEntry.Plain(0x8000_0001, 0, 0, 1u << 2, 0), // SVM
            CpuidEntry.Plain(0x8000_000A, 1, 0x8000, 0, nrips ? NripsBit : 0)
        );

    private static Vcpu GuestWith(bool nrips) =>
        new() { Rare = VcpuRare.AtReset with { Guest = GuestCpuCaps.Derive(Table(nrips), hostSupportedXcr0: 0, hostSupportedXss: 0) } };

    /// <summary><c>svm_vcpu_after_set_cpuid</c>: <c>nrips_enabled</c> needs NRIPS in the host's CPUID and in the guest's.</summary>
    [Theory]
    [InlineData(true, true, true)]
    [InlineData(true, false, false)]
    [InlineData(false, true, false)]
    [InlineData(false, false, false)]
    public void Nested_SVM_saves_next_rip_only_when_the_host_and_the_guest_both_have_NRIPS(bool host, bool guest, bool enabled)
    {
        var vm = new Vm(HostCpu.FromCpuid("amd-like", Table(host)));
        Assert.True(
            Kvm.NestedSvmNripsEnabled(vm, GuestWith(guest)) == enabled,
            $"host NRIPS {host}, guest NRIPS {guest}: nrips_enabled should be {enabled}"
        );
    }
}
