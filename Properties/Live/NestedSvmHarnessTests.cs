using CpuidFunctional.Oracle;

namespace CpuidFunctional.Properties.Live;

/// <summary>
/// The oracle's guest as an L1 hypervisor executing VMRUN on kvm_amd (the TCG kernel): the harness the nested SVM
/// issue builds on. What kvm_amd shows here is what that model must reproduce: an L2 CPUID that L1 does not
/// intercept is answered by L0 with L2's CR4 (loaded at VMRUN through <c>svm_set_cr4</c>), an intercepted one is
/// reflected to L1 (exit code 0x72), and after the #VMEXIT L1 sees its own CR4 again.
/// </summary>
public class NestedSvmHarnessTests
{
    [Theory]
    [InlineData(0ul, Cr4.OsXsave, false)]
    [InlineData(Cr4.OsXsave, 0ul, false)]
    [InlineData(0ul, Cr4.OsXsave, true)]
    public void An_L2_CPUID_is_answered_with_L2s_CR4_unless_L1_intercepts_it_and_L1_sees_its_own_after_the_exit(
        ulong l1Cr4,
        ulong l2Cr4,
        bool interceptCpuid
    )
    {
        using var kvm = LiveKernel.OpenOrSkip();
        var caps = kvm.Probe();
        var supported = LiveKernel.Supported(kvm);
        if (LiveKernelIdentity.Current.VendorModule != "kvm_amd" || !caps.NestedState)
        {
            Assert.Skip($"nested SVM needs kvm_amd with nested=1; {LiveKernelIdentity.Current}, KVM_CAP_NESTED_STATE {caps.NestedState}");
        }
        var run = SvmL1Harness.Run(kvm, supported, l1Cr4, l2Cr4, interceptCpuid);
        if (run is not IoctlResult<SvmRoundTrip>.Ok(var trip))
        {
            Assert.Fail($"the SVM round trip did not complete: {run}");
            return;
        }
        TestContext.Current.TestOutputHelper?.WriteLine(trip.ToString());

        Assert.Equal((l1Cr4 & Cr4.OsXsave) != 0, trip.L1Cpuid1AfterExit.Has(CpuidRegister.Ecx, 27));
        if (interceptCpuid)
        {
            Assert.Equal(SvmRoundTrip.ExitCpuid, trip.ExitCode);
            Assert.Equal(uint.MaxValue, trip.L2Cpuid1.Eax); // L2 never got past its CPUID
            return;
        }
        Assert.Equal(SvmRoundTrip.ExitVmmcall, trip.ExitCode);
        Assert.Equal((l2Cr4 & Cr4.OsXsave) != 0, trip.L2Cpuid1.Has(CpuidRegister.Ecx, 27));
    }
}
