using CpuidFunctional.Interpreter.Machine;

namespace CpuidFunctional.Interpreter.Harness;

/// <summary>
/// Parameters of the round-trip harness's L1 set-up: the CR4 values of both levels, the controls and the few vmcs12
/// fields a test varies. The defaults give the seed's experiment: L1 runs with OSXSAVE and PKE, L2 without.
/// </summary>
public sealed record RoundTripSetup
{
    /// <summary>L1's CR4 (written before VMXON, and HOST_CR4). Default: the boot CR4 plus VMXE, OSXSAVE and PKE.</summary>
    public ulong HostCr4 { get; init; } = MachineLayout.InitialCr4 | Cr4.Vmxe | Cr4.OsXsave | Cr4.Pke;

    /// <summary>L2's CR4 (GUEST_CR4). Default: the boot CR4 plus VMXE (required in VMX operation).</summary>
    public ulong GuestCr4 { get; init; } = MachineLayout.InitialCr4 | Cr4.Vmxe;

    /// <summary>Extra primary processor-based controls (e.g. <see cref="VmxCapabilities.ProcHltExiting"/>).</summary>
    public uint ExtraProcControls { get; init; }

    /// <summary>CR4_GUEST_HOST_MASK: CR4 bits L1 owns (L2 writes changing them exit with reason 28).</summary>
    public ulong Cr4GuestHostMask { get; init; }

    /// <summary>CR4_READ_SHADOW: what L2 reads for the bits L1 owns.</summary>
    public ulong Cr4ReadShadow { get; init; }

    /// <summary>EXCEPTION_BITMAP: exceptions in L2 that exit to L1 (reason 0).</summary>
    public uint ExceptionBitmap { get; init; }

    /// <summary>VM-entry MSR-load list, written at <see cref="RoundTrip.EntryMsrList"/>.</summary>
    public IReadOnlyList<MsrEntry> EntryMsrLoad { get; init; } = [];

    /// <summary>VM-exit MSR-load list, written at <see cref="RoundTrip.ExitMsrList"/>.</summary>
    public IReadOnlyList<MsrEntry> ExitMsrLoad { get; init; } = [];

    /// <summary>XCR0 L1 sets with XSETBV before VMXON (0: leave XCR0 alone). Needs OSXSAVE in <see cref="HostCr4"/>.</summary>
    public ulong HostXcr0 { get; init; }

    /// <summary>L1's IA32_EFER, written with WRMSR before VMXON (0: leave the boot value).</summary>
    public ulong HostEfer { get; init; }

    /// <summary>Further VMCS fields L1 writes, in order, after the standard ones and before VMLAUNCH (e.g. GUEST_ACTIVITY_STATE).</summary>
    public IReadOnlyList<(uint Field, ulong Value)> ExtraVmwrites { get; init; } = [];
}
