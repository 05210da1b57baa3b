using CpuidFunctional.Core.Dynamic;

namespace CpuidFunctional.Bench.Measurement;

/// <summary>The CPUID table the benchmark's VMM gives its vCPU, derived from the host's.</summary>
internal static class GuestCpuid
{
    /// <summary>
    /// The host's leaves with CPUID.1:ECX.OSXSAVE cleared (KVM owns it), VMX exposed (CPUID.1:ECX[5], the workloads
    /// run nested), on AMD and Hygon SVM exposed (0x80000001:ECX[2], for the SVM workloads) and PKU exposed
    /// (CPUID.7.0:ECX[3], so L1 and L2 can differ in CR4.PKE).
    /// </summary>
    public static CpuidTable For(HostCpu host)
    {
        var amd = host.IsAmdOrHygon;
        return CpuidTable.Of(
            host.Cpuid.Entries.Select(e => e.Function switch
            {
                1 => e.WithBit(CpuidRegister.Ecx, 27, false).WithBit(CpuidRegister.Ecx, 5, true),
                7 when e.Index == 0 => e.WithBit(CpuidRegister.Ecx, 3, true),
                0x8000_0001 when amd => e.WithBit(GuestFeature.Svm.Register, GuestFeature.Svm.Bit, true),
                _ => e,
            })
        );
    }
}
