using CpuidFunctional.Core.Cpuid;

namespace CpuidFunctional.Oracle;

/// <summary>What one SVM round trip showed.</summary>
/// <param name="ExitCode">VMCB12's exit code after the #VMEXIT (0x81 VMMCALL, 0x72 CPUID, -1 invalid VMCB).</param>
/// <param name="L2Cpuid1">CPUID(1) as L2 saw it (all bits set if L2 never got there).</param>
/// <param name="L1Cpuid1AfterExit">CPUID(1) as L1 saw it after the #VMEXIT.</param>
public sealed record SvmRoundTrip(ulong ExitCode, CpuidEntry L2Cpuid1, CpuidEntry L1Cpuid1AfterExit)
{
    /// <summary>SVM exit code VMMCALL.</summary>
    public const ulong ExitVmmcall = 0x81;

    /// <summary>SVM exit code CPUID.</summary>
    public const ulong ExitCpuid = 0x72;
}
