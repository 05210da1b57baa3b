using System.Globalization;
using System.Text;
using CpuidFunctional.Oracle;
using E = CpuidFunctional.Core.State.VcpuEvent;
using static CpuidFunctional.Properties.Live.LiveInputs;

namespace CpuidFunctional.Properties.Live;

/// <summary>
/// Where this kernel and the model disagree on purpose-built probes, asked once per run before any trace is
/// generated: the random traces then stay inside what both agree on, and each probed difference is a recorded
/// vendor or version behaviour (docs/live-kernel.md) or a test failure. Nothing here is taken from a recording.
/// </summary>
/// <param name="Kernel">The kernel probed.</param>
/// <param name="Cr4Accepted">CR4 bits 0–31 that KVM_SET_SREGS accepts alone on the kernel.</param>
/// <param name="Cr4Disagreeing">CR4 bits 0–31 on which the kernel and the model disagree (acceptance, or the dynamic bits after it).</param>
/// <param name="MiscEnableGuestWritesAgree">A guest WRMSR IA32_MISC_ENABLE that flips BTS_UNAVAIL, PEBS_UNAVAIL or EMON is handled as the model handles it.</param>
/// <param name="MwaitFromMiscEnableAgrees">With MISC_ENABLE_NO_MWAIT disabled, IA32_MISC_ENABLE[18] reaches CPUID.1:ECX.MWAIT as in the model.</param>
/// <param name="SetCpuid2UpdatesAtOnce">A pre-run KVM_SET_CPUID2 leaves nothing pending (disabling the quirk right after does not change what GET_CPUID2 shows), as in the model.</param>
/// <param name="GuestXsetbvReachesKvm">A guest XSETBV that changes XCR0 changes the XSAVE sizes the kernel reports. Not under QEMU TCG, whose SVM does not intercept XSETBV: the instruction never reaches kvm_amd.</param>
/// <param name="CpuidFaultingNeedsPlatformInfo">With MSR_PLATFORM_INFO's CPUID-faulting bit cleared, MISC_FEATURES_ENABLES refuses faulting from the guest and the host, as in the model (<c>supports_cpuid_fault</c>).</param>
/// <param name="SetCpuid2KeepsTable">A KVM_SET_CPUID2 before the first run installs the table as given (static bits of 7.0 and 0xD.0 changed), as in the model.</param>
/// <param name="GuestMonitorMwaitReachesKvm">A guest MONITOR/MWAIT at CPL0 is a NOP or #UD as in the model, with MWAIT_NEVER_UD_FAULTS in effect and disabled. Not under PVM, whose instruction emulator (which runs the oracle's real-mode code) cannot emulate them.</param>
internal sealed record KernelFences(
    LiveKernelIdentity Kernel,
    ulong Cr4Accepted,
    ulong Cr4Disagreeing,
    bool MiscEnableGuestWritesAgree,
    bool MwaitFromMiscEnableAgrees,
    bool SetCpuid2UpdatesAtOnce,
    bool GuestXsetbvReachesKvm,
    bool CpuidFaultingNeedsPlatformInfo,
    bool SetCpuid2KeepsTable,
    bool GuestMonitorMwaitReachesKvm
)
{
    private static readonly Dictionary<string, KernelFences> Probed = new(StringComparer.Ordinal); // per kernel, per process: probing takes ~40 VMs

    /// <summary>The fences of the running kernel, probed on first use in this process.</summary>
    public static KernelFences ForThisKernel(KvmSystem kvm, HostCpu host, CpuidTable supported)
    {
        lock (Probed)
        {
            var release = KvmSystem.KernelRelease;
            if (!Probed.TryGetValue(release, out var fences))
            {
                fences = Probe(kvm, host, supported);
                Probed[release] = fences;
            }
            return fences;
        }
    }

    /// <summary>Drops guest XSETBV where it does not reach KVM (QEMU TCG), so a scenario compares what it can.</summary>
    public IEnumerable<E> Fence(IEnumerable<E> events) => GuestXsetbvReachesKvm ? events : events.Where(e => e is not E.Xsetbv);

    /// <summary>The two CR4 bits whose changes are dynamic-CPUID triggers, where the kernel agrees with the model.</summary>
    public ulong AgreedDynamicCr4 => Cr4.DynamicBits & ~Cr4Disagreeing;

    /// <summary>CR4 bits both refuse (KVM_SET_SREGS EINVAL, MOV CR4 #GP): the refusal path, exercised safely.</summary>
    public ulong AgreedRefusedCr4 => 0xFFFF_FFFFul & ~Cr4Accepted & ~Cr4Disagreeing;

    /// <summary>The differences found, one line each (empty if none).</summary>
    public IReadOnlyList<string> Differences
    {
        get
        {
            var list = new List<string>();
            if (Cr4Disagreeing != 0)
            {
                list.Add(string.Create(CultureInfo.InvariantCulture, $"CR4 validity: bits 0x{Cr4Disagreeing:x} (kernel accepts 0x{Cr4Accepted:x})"));
            }
            if (!MiscEnableGuestWritesAgree)
            {
                list.Add("IA32_MISC_ENABLE: guest writes of the read-only BTS/PEBS_UNAVAIL or EMON bits");
            }
            if (!MwaitFromMiscEnableAgrees)
            {
                list.Add("CPUID.1:ECX.MWAIT from IA32_MISC_ENABLE[18] with MISC_ENABLE_NO_MWAIT disabled");
            }
            if (!SetCpuid2UpdatesAtOnce)
            {
                list.Add("pre-run KVM_SET_CPUID2 leaves the dynamic update pending");
            }
            if (!GuestXsetbvReachesKvm)
            {
                list.Add("guest XSETBV does not reach KVM");
            }
            if (!CpuidFaultingNeedsPlatformInfo)
            {
                list.Add("MISC_FEATURES_ENABLES turns CPUID faulting on without MSR_PLATFORM_INFO's faulting bit");
            }
            if (!SetCpuid2KeepsTable)
            {
                list.Add("pre-run KVM_SET_CPUID2 rewrites static bits of the table");
            }
            if (!GuestMonitorMwaitReachesKvm)
            {
                list.Add("guest MONITOR/MWAIT is not emulated as the model says");
            }
            return list;
        }
    }

    /// <inheritdoc/>
    public override string ToString()
    {
        var sb = new StringBuilder().Append("fences on ").Append(Kernel).Append(": ");
        var d = Differences;
        return sb.Append(d.Count == 0 ? "none, the kernel agrees with the model on every probe" : string.Join("; ", d)).ToString();
    }

    /// <summary>Runs every probe on fresh vCPUs of <paramref name="kvm"/>.</summary>
    public static KernelFences Probe(KvmSystem kvm, HostCpu host, CpuidTable supported)
    {
        var accepted = 0ul;
        var disagreeing = 0ul;
        for (var bit = 0; bit < 32; bit++)
        {
            var cr4 = 1ul << bit;
            var c = Run(kvm, host, supported, 0, t => [new E.SetSregs(cr4, t.StartRegisters.ApicBase), new E.GetCpuid2(CpuidTable.MaxEntries)]);
            accepted |= c.Rows[0].KernelObservation is Observation.IoctlDone ? cr4 : 0;
            var agrees = c.Agrees;
            if ((cr4 & Cr4.DynamicBits) != 0)
            {
                // The guest path too: MOV CR4 in the real-mode interpreter, then the outputs it feeds.
                agrees &= Run(kvm, host, supported, 0, _ => [new E.Run(), new E.MovToCr4(cr4), new E.Cpuid(1, 0), new E.Cpuid(7, 0)]).Agrees;
            }
            disagreeing |= agrees ? 0 : cr4;
        }

        var miscAgrees = new[] { Msr.MiscEnableBtsUnavailable, Msr.MiscEnablePebsUnavailable, Msr.MiscEnableEmon }.All(flip =>
            Run(
                kvm,
                host,
                supported,
                0,
                t => [new E.Run(), new E.Wrmsr(Msr.MiscEnable, t.StartRegisters.MiscEnable ^ flip), new E.Rdmsr(Msr.MiscEnable)]
            ).Agrees
        );

        var mwaitAgrees = Run(
            kvm,
            host,
            supported,
            QuirkNoMwait,
            t =>
            [
                new E.Run(),
                new E.Wrmsr(Msr.MiscEnable, t.StartRegisters.MiscEnable | Msr.MiscEnableMwait),
                new E.Cpuid(1, 0),
                new E.GetCpuid2(CpuidTable.MaxEntries),
            ]
        ).Agrees;

        // v1252 probe mwait.txt M1: MWAIT=1 from userspace, then the quirk disabled with nothing observed between.
        var setAgrees = Run(
            kvm,
            host,
            supported,
            0,
            t => [new E.SetCpuid2(Flip(t.StartTable, 1, 0, CpuidRegister.Ecx, 3)), new E.DisableQuirks2(QuirkNoMwait), new E.GetCpuid2(CpuidTable.MaxEntries)]
        ).Agrees;

        // x87|SSE|AVX where KVM supports AVX (else x87|SSE): a change of an XFEATURE_MASK_EXTEND bit either way.
        var xcr0 = supported.Find(0xD, 0) is { } d0 && (d0.Eax & 0x4) != 0 ? 0x7ul : 0x3ul;
        var xsetbvAgrees = Run(
            kvm,
            host,
            supported,
            0,
            _ => [new E.Run(), new E.MovToCr4(Cr4.OsXsave), new E.Xsetbv(0, xcr0), new E.Cpuid(0xD, 0), new E.Xsetbv(0, 0x1), new E.Cpuid(0xD, 0)]
        ).Agrees;

        var faultingAgrees = Run(
            kvm,
            host,
            supported,
            0,
            _ =>
            [
                new E.SetMsrs(Msrs((Msr.PlatformInfo, 0))),
                new E.Run(),
                new E.Wrmsr(Msr.MiscFeaturesEnables, Msr.MiscFeaturesCpuidFault),
                new E.SetMsrs(Msrs((Msr.MiscFeaturesEnables, Msr.MiscFeaturesCpuidFault))),
                new E.Rdmsr(Msr.MiscFeaturesEnables),
            ]
        ).Agrees;

        var keepsAgrees = Run(kvm, host, supported, 0, t => [new E.SetCpuid2(WithStaticChanges(t.StartTable)), new E.GetCpuid2(CpuidTable.MaxEntries)]).Agrees;

        var monitorAgrees = Run(
            kvm,
            host,
            supported,
            0,
            _ => [new E.Run(), new E.MonitorMwait(), new E.DisableQuirks2(QuirkNeverUd), new E.MonitorMwait()]
        ).Agrees;

        return new KernelFences(
            LiveKernelIdentity.Current,
            accepted,
            disagreeing,
            miscAgrees,
            mwaitAgrees,
            setAgrees,
            xsetbvAgrees,
            faultingAgrees,
            keepsAgrees,
            monitorAgrees
        );
    }

    /// <summary>CPUID.7.0:EBX[0] (FSGSBASE) and CPUID.0xD.0:EAX[17] (XTILECFG) flipped: static bits KVM stores as given.</summary>
    private static CpuidTable WithStaticChanges(CpuidTable t) => Flip(Flip(t, 7, 0, CpuidRegister.Ebx, 0), 0xD, 0, CpuidRegister.Eax, 17);

    private static LiveComparison Run(KvmSystem kvm, HostCpu host, CpuidTable table, ulong quirks, Func<LiveKvmTarget, E[]> events)
    {
        var created = LiveKvmTarget.Create(kvm, table, quirks);
        if (created is IoctlResult<LiveKvmTarget>.Failed f)
        {
            throw new InvalidOperationException($"probe set-up of a live vCPU failed: {f}");
        }
        using var target = ((IoctlResult<LiveKvmTarget>.Ok)created).Value;
        return LiveComparison.Run(target, host, events(target));
    }
}
