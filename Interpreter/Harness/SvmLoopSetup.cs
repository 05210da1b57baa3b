using CpuidFunctional.Interpreter.Machine;

namespace CpuidFunctional.Interpreter.Harness;

/// <summary>
/// Parameters of <see cref="SvmHarness.BuildLoop"/>: the CR4 values of both levels and vmcb12's intercept words. The
/// defaults give the seed's round trip on AMD: L1 runs with OSXSAVE and PKE, L2 without, CPUID and VMMCALL intercepted.
/// </summary>
public sealed record SvmLoopSetup
{
    /// <summary>L1's CR4, written before EFER.SVME. Default: the boot CR4 plus OSXSAVE and PKE.</summary>
    public ulong L1Cr4 { get; init; } = MachineLayout.InitialCr4 | Cr4.OsXsave | Cr4.Pke;

    /// <summary>vmcb12's save.cr4 (L2's CR4). Default: the boot CR4.</summary>
    public ulong L2Cr4 { get; init; } = MachineLayout.InitialCr4;

    /// <summary>Intercept word 0: CR reads (bits 0–15) and writes (bits 16–31, e.g. CR4 at bit 20).</summary>
    public uint CrIntercepts { get; init; }

    /// <summary>Intercept word 3 (<see cref="Vmcb12.InterceptCpuid"/>, <see cref="Vmcb12.InterceptHlt"/>, …).</summary>
    public uint Word3 { get; init; } = Vmcb12.InterceptCpuid;

    /// <summary>Intercept word 4 (<see cref="Vmcb12.InterceptVmmcall"/>, <see cref="Vmcb12.InterceptXsetbv"/>, …); VMRUN is always added.</summary>
    public uint Word4 { get; init; } = Vmcb12.InterceptVmmcall;
}
