using CpuidFunctional.Oracle;
using CpuidFunctional.Properties.Generators;
using CsCheck;
using E = CpuidFunctional.Core.State.VcpuEvent;
using static CpuidFunctional.Properties.Live.LiveInputs;

namespace CpuidFunctional.Properties.Live;

/// <summary>
/// Generators of live traces over the events this kernel supports, inside the fences probed on it
/// (<see cref="KernelFences"/>), and the resolution of abstract steps into Core events. Each restriction is
/// commented where it is made and recorded in docs/live-kernel.md.
/// </summary>
internal static class LiveTraceGen
{
    private static readonly Gen<E> Cpuid = Gen.OneOf<(uint, uint)>(
            (0, 0), (1, 0), (7, 0), (7, 1), (0xD, 0), (0xD, 1), (0xD, 2), (0xB, 0), (0x1F, 1), (0x21, 0), (0x21, 1),
            (0x4000_0000, 0), (0x4000_0100, 0), (0x8000_0000, 0), (0x8000_0008, 0), (0x8000_0009, 1), (0xC000_0000, 0)
        )
        .Select(q => (E)new E.Cpuid(q.Item1, q.Item2));

    private static readonly Gen<ulong> Xcr0Value = Gen.OneOf<ulong>(
        0x1, 0x3, 0x7, 0xE7, 0x2E7, 0x207, 0x203, 0x201, 0x0, 0x2, 0x5, 0x27, 0xE3, 0x1F, 0x107, 0x60007, (1ul << 63) | 7
    );

    private static readonly Gen<ulong> ApicBase = Gen.OneOf<ulong>(
        0xFEE0_0900, 0xFEE0_0100, 0xFEE0_0D00, 0xFEE0_0500, 0xFEE0_0901, 0xFEE0_0900
    );

    // MISC_FEATURES_ENABLES: only 0 and 1. PVM accepts 3 (reserved bit 1) where upstream refuses it (S12): vendor.
    private static readonly Gen<ulong> CpuidFault = Gen.OneOf<ulong>(0, 1);

    // Read-back MSRs: IA32_TSX_CTRL is left out (upstream handles it in vendor code, vmx_set_msr/vmx_get_msr).
    private static readonly Gen<uint> ReadableMsr = Gen.OneOf(Msr.ApicBase, Msr.MiscEnable, Msr.MiscFeaturesEnables, Msr.PlatformInfo, Msr.Efer);

    // IA32_EFER values every kernel here treats alike: SCE and NXE (free on every host, and the guest's with its NX),
    // LMA (KVM keeps its own), a reserved bit and bit 63. LME stays clear, as the oracle's guest never runs in long
    // mode; kvm_amd's FFXSR, SVME, LMSLE and AUTOIBRS are not drawn, since PVM reserves them.
    private static readonly Gen<ulong> EferValue = Gen.OneOf(0ul, Efer.Sce, Efer.Nxe, Efer.Sce | Efer.Nxe, Efer.Lma, 1ul << 1, 1ul << 63);

    // KVM_GET_MSRS lists: 1–3 readable MSRs, now and then one KVM does not know, where the list stops.
    private static readonly Gen<uint[]> MsrIndexList = Gen.Frequency((4, ReadableMsr), (1, Gen.Const(Msr.NotKnownToKvm))).Array[1, 3];

    /// <summary>
    /// CR4 values: any combination of the dynamic bits on which kernel and model agree (on PVM CR4.PKE is accepted
    /// whatever the guest CPUID, so without PKU it is fenced off), now and then with one bit both refuse.
    /// </summary>
    private static Gen<ulong> Cr4Value(KernelFences fences)
    {
        var dynamic = fences.AgreedDynamicCr4;
        var subsets = new[] { 0ul, Cr4.OsXsave, Cr4.Pke, Cr4.OsXsave | Cr4.Pke }.Where(v => (v & ~dynamic) == 0).ToArray();
        var refused = Enumerable.Range(0, 32).Select(b => 1ul << b).Where(b => (fences.AgreedRefusedCr4 & b) != 0).ToArray();
        return refused.Length == 0
            ? Gen.OneOf(subsets)
            : Gen.Frequency((6, Gen.OneOf(subsets)), (1, Gen.Select(Gen.OneOf(subsets), Gen.OneOf(refused)).Select((v, r) => v | r)));
    }

    // IA32_XSS values, generated only where the kernel saves the MSR: nothing, what KVM supports, and refusals.
    private static Gen<ulong> XssValue(CpuidTable supported)
    {
        var xss = supported.Find(0xD, 1) is { } d1 ? d1.Ecx | ((ulong)d1.Edx << 32) : 0;
        return Gen.OneOf(0ul, xss, xss & (xss - 1), 1ul << 8, (1ul << 11) | (1ul << 12), 1ul << 63);
    }

    private static Gen<TraceStep> Step(KernelFences fences, LiveCapabilities caps, CpuidTable supported, bool mwaitAllowed, bool quirkChanges, bool inKernelApic)
    {
        var cr4 = Cr4Value(fences);
        var steps = new List<(int, IGen<TraceStep>)>
        {
            (8, Cpuid.Select(Plain)),
            (4, cr4.Select(v => Plain(new E.MovToCr4(v)))),

            (3, ApicBase.Select(v => Plain(new E.Wrmsr(Msr.ApicBase, v)))),
            (2, CpuidFault.Select(v => Plain(new E.Wrmsr(Msr.MiscFeaturesEnables, v)))),
            (2, ReadableMsr.Select(i => Plain(new E.Rdmsr(i)))),
            (2, EferValue.Select(v => Plain(new E.Wrmsr(Msr.Efer, v)))),
            (2, EferValue.Select(v => Plain(new E.SetMsrs(Msrs((Msr.Efer, v)))))),
            (3, Gen.Select(cr4, ApicBase).Select((c, a) => Plain(new E.SetSregs(c, a)))),
            (3, Xcr0Value.Select(v => Plain(new E.SetXcrs(v)))),
            (1, XcrsGen.List(Xcr0Value).Select(e => Plain(e))),
            (1, Gen.Const(Plain(new E.GetXcrs()))),
            (2, Gen.Select(ApicBase, CpuidFault).Select((a, f) => Plain(new E.SetMsrs(Msrs((Msr.ApicBase, a), (Msr.MiscFeaturesEnables, f)))))),
            (1, Gen.Select(ApicBase, CpuidFault).Select((a, f) => Plain(new E.SetMsrs(Msrs((Msr.ApicBase, a), (Msr.NotKnownToKvm, 0), (Msr.MiscFeaturesEnables, f)))))),
            (2, MsrIndexList.Select(l => Plain(new E.GetMsrs(new([.. l]))))),
            // A guest write may flip a read-only MISC_ENABLE bit only where the kernel refuses it as the model does
            // (PVM stores it: probe misc.txt); a host write may always flip it.
            (
                3,
                Gen.Select(Gen.Bool, mwaitAllowed ? Gen.Bool : Gen.Const(false), Gen.Int[0, 9])
                    .Select((h, m, r) => (TraceStep)new TraceStep.MiscEnableWrite(h, m, r == 0 && (h || fences.MiscEnableGuestWritesAgree)))
            ),
            (3, Gen.Enum<CpuidVariant>().Select(v => (TraceStep)new TraceStep.SetCpuid(v))),
            (4, Gen.OneOf(-1, 0, 1, 200, -1000).Select(d => (TraceStep)new TraceStep.GetCpuid(d))),
            (2, Gen.OneOf<byte>(0, 3).Select(c => Plain(new E.SetCpl(c)))),
            (2, Gen.Const(Plain(new E.Run()))),
        };
        if (fences.CpuidFaultingNeedsPlatformInfo)
        {
            // MSR_PLATFORM_INFO is the host's; without its faulting bit CPUID faulting cannot be turned on (PVM's
            // vendor code turns it on anyway: fenced).
            steps.Add((1, Gen.OneOf(0ul, Msr.PlatformInfoCpuidFault).Select(v => Plain(new E.SetMsrs(Msrs((Msr.PlatformInfo, v)))))));
        }
        if (fences.GuestMonitorMwaitReachesKvm)
        {
            steps.Add((2, Gen.Const(Plain(new E.MonitorMwait()))));
        }
        if (fences.GuestXsetbvReachesKvm)
        {
            steps.Add((4, Xcr0Value.Select(v => Plain(new E.Xsetbv(0, v)))));
            steps.Add((1, Gen.Const(Plain(new E.Xsetbv(1, 1)))));
        }
        if (quirkChanges)
        {
            steps.Add((2, Gen.OneOf(QuirkNoMwait, 0ul, 1ul << 40, QuirkNeverUd, QuirkNoMwait | QuirkNeverUd).Select(m => Plain(new E.DisableQuirks2(m)))));
        }
        if (caps.Smm)
        {
            // SMI and RSM, in and out of SMM (RSM outside SMM is #UD); Resolve rewrites what cannot be compared in SMM.
            steps.Add((2, Gen.Const(Plain(new E.EnterSmm()))));
            steps.Add((2, Gen.Const(Plain(new E.Rsm()))));
        }
        if (inKernelApic)
        {
            // INIT, latched through the in-kernel APIC (kvm_apic_accept_events → kvm_vcpu_reset(vcpu, true)).
            steps.Add((2, Gen.Const(Plain(new E.Init()))));
        }
        if (caps.XssSaved)
        {
            var xss = XssValue(supported);
            steps.Add((2, xss.Select(v => Plain(new E.Wrmsr(Msr.Xss, v)))));
            steps.Add((1, xss.Select(v => Plain(new E.SetMsrs(Msrs((Msr.Xss, v)))))));
            steps.Add((1, Gen.Const(Plain(new E.Rdmsr(Msr.Xss)))));
        }
        return Gen.Frequency([.. steps]);
    }

    /// <summary>
    /// Traces of 1–30 steps for this kernel. Where the kernel shows MWAIT from IA32_MISC_ENABLE[18] as the model
    /// does, a trace may both set bit 18 and disable MISC_ENABLE_NO_MWAIT; elsewhere (PVM, whose host has no MWAIT:
    /// S6) a trace does one or the other. Where the kernel lets HLT exits be disabled, half the traces start in a VM
    /// that disabled them, whose tables (KVM_GET_SUPPORTED_CPUID's, with KVM's leaves) lose KVM_FEATURE_PV_UNHALT.
    /// Where the kernel offers an in-kernel APIC (KVM_CAP_IRQCHIP), half the traces run on a VM that has one, and
    /// only those draw INIT.
    /// </summary>
    public static Gen<LiveTrace> Traces(KernelFences fences, LiveCapabilities caps, CpuidTable supported) =>
        Gen.Select(Gen.Bool, Gen.Bool, Gen.Bool, (caps.DisableExitsMask & DisableExits.Hlt) != 0 ? Gen.Bool : Gen.Const(false), caps.Irqchip ? Gen.Bool : Gen.Const(false))
            .SelectMany((mwaitAllowed, quirkAtCreation, both, hltDisabled, apic) =>
            {
                var quirks = fences.MwaitFromMiscEnableAgrees ? both || !mwaitAllowed : !mwaitAllowed;
                return Step(fences, caps, supported, mwaitAllowed, quirks, apic)
                    .Array[1, 30]
                    .Select(steps => new LiveTrace(quirks && quirkAtCreation, mwaitAllowed, [.. steps]) { HltExitsDisabledAtCreation = hltDisabled, InKernelApic = apic });
            });

    /// <summary>
    /// Makes a step concrete for the Lazy model's current state <paramref name="lazy"/>:
    /// a guest instruction before the first run is preceded by KVM_RUN (running guest code is a KVM_RUN);
    /// at CPL3 the guest runs only CPUID and MONITOR/MWAIT (#UD), so other guest instructions become CPUID(1);
    /// a quirk change while an update is pending is preceded by KVM_GET_CPUID2, so Eager and Lazy sample the quirk
    /// at the same point (the pending case is Modelling note 5, pinned by a scenario test); where a pre-run
    /// KVM_SET_CPUID2 leaves the kernel's update pending (PVM: probe mwait.txt), every quirk change is preceded by it.
    /// In SMM, an SMI becomes RSM (KVM keeps it pending and enters SMM again right after RSM, as the model does, but
    /// the oracle's RSM expects to leave SMM) and a CPL change is dropped (the oracle's SMM handler is the real-mode
    /// interpreter); an INIT there stays latched until RSM takes it. SMI and RSM run guest code, so before the first run
    /// they are preceded by KVM_RUN too; an INIT need not be (KVM_GET_MP_STATE takes it without running the guest). Under 6.1's rule
    /// MONITOR/MWAIT reads the guest CPUID's MWAIT bit, which a lazy scheme may not have brought up to date
    /// (docs/semantics.md: why 6.15 reads IA32_MISC_ENABLE instead): with an update pending it is preceded by
    /// KVM_GET_CPUID2, so Lazy reads what Eager and the kernel read.
    /// </summary>
    public static IReadOnlyList<E> Resolve(TraceStep step, KvmState lazy, LiveKvmTarget target, KernelFences fences)
    {
        var v = lazy.Vcpu;
        var e = step switch
        {
            TraceStep.Event(var ev) => ev,
            TraceStep.SetCpuid(var variant) => new E.SetCpuid2(Variant(target.StartTable, variant, v.HasRun)),
            TraceStep.GetCpuid(var delta) => new E.GetCpuid2(Math.Max(0, v.Cpuid.Count + delta)),
            TraceStep.MiscEnableWrite(var host, var mwait, var flip) => MiscEnable(target.StartRegisters.MiscEnable, v.MiscEnable, host, mwait, flip, fences),
            _ => throw new System.Diagnostics.UnreachableException(),
        };
        if (v.InSmm && e is E.SetCpl)
        {
            return [];
        }
        if (v.InSmm && e is E.EnterSmm)
        {
            e = new E.Rsm();
        }
        var guest = e is E.Cpuid or E.MovToCr4 or E.Xsetbv or E.Wrmsr or E.Rdmsr or E.MonitorMwait;
        if (guest && v.Cpl != 0 && e is not (E.Cpuid or E.MonitorMwait))
        {
            e = new E.Cpuid(1, 0);
        }
        var refreshFirst = e switch
        {
            E.DisableQuirks2 => v.CpuidDynamicBitsDirty || !fences.SetCpuid2UpdatesAtOnce,
            E.MonitorMwait => v.CpuidDynamicBitsDirty && !KernelProfiles.MwaitEnableFromMiscEnable(lazy.Vm.Profile),
            _ => false,
        };
        var events = new List<E>(3);
        if (refreshFirst)
        {
            events.Add(new E.GetCpuid2(CpuidTable.MaxEntries));
        }
        if ((guest || e is E.EnterSmm or E.Rsm) && !v.HasRun)
        {
            events.Add(new E.Run());
        }
        events.Add(e);
        return events;
    }

    /// <summary>
    /// An IA32_MISC_ENABLE write: the start value with bit 18 as drawn, BTS_UNAVAIL flipped if drawn. Where a guest
    /// write may change the read-only bits on the kernel (PVM: probe misc.txt), a guest write keeps their current
    /// values, which an earlier host write may have changed.
    /// </summary>
    private static E MiscEnable(ulong start, ulong current, bool host, bool mwait, bool flipReadOnly, KernelFences fences)
    {
        const ulong readOnly = Msr.MiscEnablePmuReadOnly | Msr.MiscEnableEmon;
        var value = (start & ~Msr.MiscEnableMwait) | (mwait ? Msr.MiscEnableMwait : 0);
        value ^= flipReadOnly ? Msr.MiscEnableBtsUnavailable : 0;
        if (host)
        {
            return new E.SetMsrs(Msrs((Msr.MiscEnable, value)));
        }
        return new E.Wrmsr(Msr.MiscEnable, fences.MiscEnableGuestWritesAgree ? value : (value & ~readOnly) | (current & readOnly));
    }

    private static CpuidTable Variant(CpuidTable t, CpuidVariant variant, bool hasRun) => variant switch
    {
        CpuidVariant.Same => t,
        CpuidVariant.FlipOsxsave => Flip(t, 1, 0, CpuidRegister.Ecx, 27),
        CpuidVariant.FlipApic => Flip(t, 1, 0, CpuidRegister.Edx, 9),
        CpuidVariant.WrongXsaveSize => Edit(t, 0xD, 0, e => e with { Ebx = 0x1234 }),
        CpuidVariant.FlipOspke => Flip(t, 7, 0, CpuidRegister.Ecx, 4),
        CpuidVariant.WrongCompactedSize => Edit(t, 0xD, 1, e => e with { Ebx = 0x1234 }),
        CpuidVariant.FlipMwait => Flip(t, 1, 0, CpuidRegister.Ecx, 3),
        CpuidVariant.StaticChange => hasRun ? Flip(t, 7, 0, CpuidRegister.Ebx, 0) : t,
        CpuidVariant.OffersTileData => OfferingTileData(t),
        CpuidVariant.SetsPvUnhalt => WithKvmLeaves(t),
        CpuidVariant.UnsignedSetsPvUnhalt => WithKvmLeaves(t, signed: false),
        _ => throw new System.Diagnostics.UnreachableException(),
    };

    private static TraceStep Plain(E e) => new TraceStep.Event(e);
}
