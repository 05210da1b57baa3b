namespace CpuidFunctional.Properties.Live;

/// <summary>
/// The probes behind the differential's fences, as tests: on an upstream vendor module (kvm_intel, kvm_amd) the
/// model must agree on every probe; on PVM the differences found must be among its recorded vendor behaviours
/// (docs/live-kernel.md), and the build they were recorded on must still show them.
/// </summary>
public class KernelFenceTests
{
    /// <summary>The PVM build the v1252 probes were recorded on (shared/kvm/v1252-probes).</summary>
    private const string RecordedPvmBuild = "6.18.44-fc-v1252";

    /// <summary>CR4 bits KVM_SET_SREGS accepted alone on that build, whatever the guest CPUID (probe pke2.txt).</summary>
    private const ulong RecordedPvmCr4Mask = 0x0075_0FFF;

    /// <summary>The PVM build on an AMD Genoa host these probes first ran on (2026-12-07), and what they found there.</summary>
    private const string ProbedAmdPvmBuild = "6.18.44-fc-v1300";

    private static readonly string[] ProbedAmdPvmDifferences =
    [
        "CR4 validity: bits 0x710000 (kernel accepts 0x750fff)",
        "IA32_MISC_ENABLE: guest writes of the read-only BTS/PEBS_UNAVAIL or EMON bits",
        "CPUID.1:ECX.MWAIT from IA32_MISC_ENABLE[18] with MISC_ENABLE_NO_MWAIT disabled",
        "pre-run KVM_SET_CPUID2 leaves the dynamic update pending",
        "MISC_FEATURES_ENABLES turns CPUID faulting on without MSR_PLATFORM_INFO's faulting bit",
        "pre-run KVM_SET_CPUID2 rewrites static bits of the table",
        "guest MONITOR/MWAIT is not emulated as the model says",
    ];

    [Fact]
    public void Every_difference_the_probes_find_is_a_recorded_vendor_behaviour_of_this_kernel()
    {
        using var kvm = LiveKernel.OpenOrSkip();
        var fences = KernelFences.ForThisKernel(kvm, LiveKernel.Host(kvm), LiveKernel.Supported(kvm));
        TestContext.Current.TestOutputHelper?.WriteLine(fences.ToString());
        if (!fences.Kernel.IsPvm)
        {
            // Upstream common code and vendor module: every probed difference is a model bug, except that QEMU's
            // TCG (the 6.1 guest's CPU) never lets a guest XSETBV reach KVM (its SVM has no XSETBV intercept).
            Assert.True((fences with { GuestXsetbvReachesKvm = true }).Differences.Count == 0, fences.ToString());
            Assert.True(LiveKernel.UnderTcg || fences.GuestXsetbvReachesKvm, fences.ToString());
            return;
        }
        // PVM: every class the probes can find is a recorded vendor behaviour (docs/live-kernel.md); on the build the
        // v1252 probes were recorded on, pin the four they showed.
        if (fences.Kernel.Release == RecordedPvmBuild)
        {
            Assert.Equal(RecordedPvmCr4Mask, fences.Cr4Accepted);
            Assert.False(fences.MiscEnableGuestWritesAgree, fences.ToString());
            Assert.False(fences.MwaitFromMiscEnableAgrees, fences.ToString());
            Assert.False(fences.SetCpuid2UpdatesAtOnce, fences.ToString());
        }
        if (fences.Kernel.Release == ProbedAmdPvmBuild)
        {
            Assert.Equal(ProbedAmdPvmDifferences, fences.Differences);
        }
    }
}
