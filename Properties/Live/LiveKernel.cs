using CpuidFunctional.Oracle;

namespace CpuidFunctional.Properties.Live;

/// <summary>Opens the live KVM for a test, or skips the test with the reason it cannot run here.</summary>
internal static class LiveKernel
{
    /// <summary>Set by the QEMU TCG guest's /init (Oracle/Tcg): this process runs inside the emulated machine.</summary>
    public static bool UnderTcg => Environment.GetEnvironmentVariable("CPUIDF_TCG_GUEST") == "1";

    /// <summary>The open /dev/kvm; the test is reported as skipped when it is missing, unusable or has no model profile.</summary>
    public static KvmSystem OpenOrSkip()
    {
        switch (KvmSystem.Open())
        {
            case KvmAvailability.Available(var kvm):
                if (kvm.GetSupportedCpuid() is IoctlResult<CpuidTable>.Failed f)
                {
                    kvm.Dispose();
                    Assert.Skip($"KVM unusable on {KvmSystem.KernelRelease}: {f}");
                }
                if (LiveKernelIdentity.Current is { Profile: null } identity)
                {
                    kvm.Dispose();
                    Assert.Skip($"the model has no profile for kernel {identity} (it models 6.1, 6.15–6.17 and 6.18+)");
                }
                return kvm;
            case KvmAvailability.Unavailable(var reason):
                Assert.Skip($"no usable KVM on {KvmSystem.KernelRelease}: {reason}");
                break;
        }
        throw new InvalidOperationException("unreachable: Assert.Skip throws");
    }

    /// <summary>KVM_GET_SUPPORTED_CPUID (OpenOrSkip has checked that it works).</summary>
    public static CpuidTable Supported(KvmSystem kvm) => ((IoctlResult<CpuidTable>.Ok)kvm.GetSupportedCpuid()).Value;

    /// <summary>The model's host for this kernel (see <see cref="LiveKernelHost"/>).</summary>
    public static HostCpu Host(KvmSystem kvm) =>
        LiveKernelHost.Build("live " + KvmSystem.KernelRelease, Supported(kvm), LiveKernelHost.HostCpuid);
}
