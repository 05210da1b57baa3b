using System.Collections.Immutable;

namespace CpuidFunctional.Bench.Mutable;

/// <summary>
/// Drives the mutable baseline with Core's event values and reports Core's observation values, so the equivalence
/// tests can run one trace through both. Allocates (it builds observation records); the round-trip machine calls the
/// <see cref="MutableKvm"/> methods directly instead.
/// </summary>
internal static class MutableEvents
{
    private static readonly Observation Gp = new Observation.Fault(X86Exception.GP);
    private static readonly Observation Ud = new Observation.Fault(X86Exception.UD);
    private static readonly Observation Ok0 = new Observation.IoctlDone(0);
    private static readonly Observation Einval = new Observation.IoctlError(Errno.EINVAL);
    private static readonly Observation E2big = new Observation.IoctlError(Errno.E2BIG);
    private static readonly Observation SvmCpuidExit = new Observation.SvmExitToL1(SvmExitCode.Cpuid);
    private static readonly Observation SvmXsetbvExit = new Observation.SvmExitToL1(SvmExitCode.Xsetbv);
    private static readonly Observation SvmVmrunExit = new Observation.SvmExitToL1(SvmExitCode.Vmrun);

    /// <summary>
    /// Whether the baseline models this kind of event. A VM-entry with CR4 bits L1 owns is not: the mutable machine
    /// decides those MOV to CR4 exits itself, from its VMCS.
    /// </summary>
    public static bool IsModelled(VcpuEvent e) =>
        e is VcpuEvent.MovToCr4 or VcpuEvent.Xsetbv or VcpuEvent.Wrmsr or VcpuEvent.Rdmsr or VcpuEvent.Cpuid
            or VcpuEvent.SetCpl or VcpuEvent.Init or VcpuEvent.NestedVmEntry { Cr4GuestHostMask: 0 } or VcpuEvent.NestedVmExit
            or VcpuEvent.SetSregs or VcpuEvent.SetXcrs or VcpuEvent.GetCpuid2 or VcpuEvent.DisableQuirks2 or VcpuEvent.Run
            or VcpuEvent.NestedSvmVmrun or VcpuEvent.NestedSvmVmexit or VcpuEvent.SetMsrs or VcpuEvent.GetMsrs;

    /// <summary>Applies one event; the observation Core's <see cref="Kvm.Step"/> would give.</summary>
    public static Observation? Apply(MutableKvm k, VcpuEvent e) =>
        e switch
        {
            VcpuEvent.MovToCr4(var cr4) => k.MovToCr4(cr4) ? null : Gp,
            // On VMX an L2 XSETBV is L1's once its #UD and #GP are past (Core: Kvm.NestedVmxL1WantsExit).
            VcpuEvent.Xsetbv when k.GuestMode && !k.SvmGuest && (k.Cr4 & Cr4.OsXsave) != 0 && k.Cpl == 0 => new Observation.ExitToL1(Observation.ExitToL1.Xsetbv),
            VcpuEvent.Xsetbv when (k.Cr4 & Cr4.OsXsave) != 0 && k.NestedSvmIntercept(Vmcb12Intercepts.Xsetbv) => SvmXsetbvExit,
            VcpuEvent.Xsetbv(var index, var value) => k.Xsetbv(index, value) switch
            {
                null => null,
                X86Exception.UD => Ud,
                _ => Gp,
            },
            VcpuEvent.Wrmsr(var index, var value) => k.Wrmsr(index, value) ? null : Gp,
            VcpuEvent.Rdmsr(var index) => k.Rdmsr(index, out var value) ? new Observation.MsrValue(index, value) : Gp,
            VcpuEvent.Cpuid when k.NestedSvmIntercept(Vmcb12Intercepts.Cpuid) => SvmCpuidExit,
            VcpuEvent.Cpuid when k.GuestMode && !k.SvmGuest => new Observation.ExitToL1(Observation.ExitToL1.Cpuid), // on VMX, L2's CPUID is L1's
            VcpuEvent.Cpuid(var leaf, var subleaf) => k.EmulateCpuid(leaf, subleaf, out var a, out var b, out var c, out var d)
                ? new Observation.CpuidResult(leaf, subleaf, a, b, c, d)
                : Gp,
            VcpuEvent.SetCpl(var cpl) => Do(() => k.SetCpl(cpl)),
            VcpuEvent.Init => Do(k.Init),
            VcpuEvent.NestedVmEntry entry => k.NestedVmEntry(entry.GuestCr4, entry.MsrLoad.Items.AsSpan()) is var failed and not 0
                ? new Observation.VmEntryMsrLoadFailed(failed)
                : null,
            VcpuEvent.NestedVmExit exit => k.NestedVmExit(exit.HostCr4, exit.MsrLoad.Items.AsSpan())
                ? null
                : new Observation.VmxAbort(Msr.VmxAbortLoadHostMsrFail),
            VcpuEvent.SetSregs(var cr4, var apicBase) sregs => k.SetSregs(cr4, apicBase, sregs.Cr0 ?? k.Cr0, sregs.Efer ?? k.Efer) ? Ok0 : Einval,
            VcpuEvent.SetXcrs set => k.SetXcrs(set.Xcrs, set.Flags) ? Ok0 : Einval,
            VcpuEvent.GetCpuid2(var nent) => k.GetCpuid2(nent) is { } table
                ? new Observation.Cpuid2(CpuidTable.Of(ImmutableArray.Create(table)))
                : new Observation.IoctlError(Errno.E2BIG),
            VcpuEvent.NestedSvmVmrun when k.GuestMode => SvmVmrunExit, // VMRUN is a mandatory intercept in L2
            VcpuEvent.NestedSvmVmrun(var saveCr4, var intercepts) => k.NestedSvmVmrun(saveCr4, intercepts) ? null : Gp,
            VcpuEvent.NestedSvmVmexit => Do(k.NestedSvmVmexit),
            VcpuEvent.DisableQuirks2(var mask) => k.DisableQuirks2(mask) ? Ok0 : Einval,
            VcpuEvent.SetMsrs(var entries) => k.SetMsrs(entries.Items.AsSpan()) is { } written ? new Observation.IoctlDone(written) : E2big,
            VcpuEvent.GetMsrs(var indices) => k.GetMsrs(indices.Items.AsSpan()) is { } read ? new Observation.Msrs(new([.. read])) : E2big,
            VcpuEvent.Run => Do(k.Run),
            _ => throw new NotSupportedException($"the mutable baseline does not model {e}"),
        };

    private static Observation? Do(Action action)
    {
        action();
        return null;
    }
}
