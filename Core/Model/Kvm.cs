using System.Diagnostics;
using CpuidFunctional.Core.Cpuid;
using CpuidFunctional.Core.Dynamic;
using CpuidFunctional.Core.State;

namespace CpuidFunctional.Core.Model;

/// <summary>
/// The pure transition function: <c>Step(policy, state, event) → (state', observation, effort)</c>. Every rule cites
/// the KVM function it models; triggers and consumers follow spec §3 and §4, and the policy decides whether a
/// trigger updates at once (Eager), sets the marker (Lazy) or does nothing (Reference).
/// </summary>
public static class Kvm
{
    /// <summary>XCR0 x87.</summary>
    public const ulong XfeatureFp = 1ul << 0;

    /// <summary>XCR0 SSE.</summary>
    public const ulong XfeatureSse = 1ul << 1;

    /// <summary>XCR0 AVX (YMM upper halves).</summary>
    public const ulong XfeatureYmm = 1ul << 2;

    /// <summary>XCR0 MPX bound registers.</summary>
    public const ulong XfeatureBndregs = 1ul << 3;

    /// <summary>XCR0 MPX bound config and status.</summary>
    public const ulong XfeatureBndcsr = 1ul << 4;

    /// <summary>XCR0 AVX-512: opmask, ZMM_Hi256, Hi16_ZMM.</summary>
    public const ulong XfeatureAvx512 = 0x7ul << 5;

    /// <summary>XCR0 AMX: XTILECFG and XTILEDATA.</summary>
    public const ulong XfeatureXtile = 0x3ul << 17;

    private static readonly Observation Ok0 = new Observation.IoctlDone(0);
    private static readonly Observation Gp = new Observation.Fault(X86Exception.GP);
    private static readonly Observation Ud = new Observation.Fault(X86Exception.UD);
    private static readonly Observation Einval = new Observation.IoctlError(Errno.EINVAL);
    private static readonly Observation E2big = new Observation.IoctlError(Errno.E2BIG);
    private static readonly Observation Nop = new Observation.MwaitNop();

    /// <summary>Applies one event.</summary>
    public static Transition Step(Policy policy, KvmState state, VcpuEvent e)
    {
        var (vm, v) = state;
        var effort = default(Effort);
        var (nv, nvm, observation) = e switch
        {
            VcpuEvent.MovToCr4 when v.Cpl != 0 => (v, vm, Gp),
            VcpuEvent.MovToCr4(var cr4) => GuestMovToCr4(policy, vm, v, cr4, ref effort),
            VcpuEvent.Xsetbv(var index, var value) => GuestXsetbv(policy, vm, v, index, value, ref effort),
            // WRMSR, RDMSR and MOV to CR4 are privileged: #GP at CPL > 0 before KVM sees them.
            VcpuEvent.Wrmsr when v.Cpl != 0 => (v, vm, Gp),
            VcpuEvent.Wrmsr(var index, var value) => SetMsr(policy, vm, v, index, value, hostInitiated: false, ref effort) is { } w
                ? (w, vm, null)
                : (v, vm, Gp),
            VcpuEvent.Rdmsr when v.Cpl != 0 => (v, vm, Gp),
            VcpuEvent.Rdmsr(var index) => GetMsr(vm, v, index, hostInitiated: false) is { } value
                ? (v, vm, new Observation.MsrValue(index, value))
                : (v, vm, Gp),
            VcpuEvent.Cpuid(var leaf, var subleaf) => EmulateCpuid(policy, vm, v, leaf, subleaf, ref effort),
            VcpuEvent.MonitorMwait => (v, vm, EmulateMonitorMwait(vm, v)),
            VcpuEvent.SetCpl(var cpl) => ((byte)(cpl & 3) == v.Cpl ? v : v with { Cpl = (byte)(cpl & 3) }, vm, null),
            VcpuEvent.EnterSmm => (EnterSmm(policy, vm, v, ref effort), vm, null),
            VcpuEvent.Rsm => v.InSmm ? (Rsm(policy, vm, v, ref effort), vm, null) : (v, vm, Ud),
            VcpuEvent.Init => (Init(policy, vm, v, ref effort), vm, null),
            VcpuEvent.Reset => (Reset(policy, vm, v, ref effort), vm, null),
            VcpuEvent.SevEsSyncFromGhcb(var xcr0) => (SevEsSyncFromGhcb(policy, vm, v, xcr0, ref effort), vm, null),
            VcpuEvent.NestedVmEntry entry => NestedVmEntry(policy, vm, v, entry, ref effort),
            VcpuEvent.NestedVmExit exit => NestedVmExit(policy, vm, v, exit, ref effort),
            VcpuEvent.SetSregs(var cr4, var apicBase) => SetSregs(policy, vm, v, cr4, apicBase, ref effort),
            VcpuEvent.SetXcrs(var xcr0) => SetXcrs(policy, vm, v, xcr0, ref effort),
            VcpuEvent.SetMsrs(var entries) => SetMsrs(policy, vm, v, entries, ref effort),
            VcpuEvent.SetCpuid2(var table) => SetCpuid2(policy, vm, v, table, ref effort),
            VcpuEvent.GetCpuid2(var nent) => GetCpuid2(policy, vm, v, nent, ref effort),
            VcpuEvent.DisableQuirks2(var mask) => DisableQuirks2(vm, v, mask),
            VcpuEvent.Run => (v.HasRun ? v : v with { HasRun = true }, vm, null),
            _ => throw new UnreachableException($"unhandled event {e.GetType().Name}"),
        };
        var next = ReferenceEquals(nv, v) && ReferenceEquals(nvm, vm) ? state : new KvmState(nvm, nv);
        return new Transition(next, observation, effort);
    }

    /// <summary>Applies events in order, collecting observations (null entries are events with nothing to see).</summary>
    public static (KvmState State, Observation?[] Observations, Effort Effort) Run(
        Policy policy,
        KvmState state,
        IEnumerable<VcpuEvent> events
    )
    {
        var observations = new List<Observation?>();
        var total = default(Effort);
        foreach (var e in events)
        {
            var t = Step(policy, state, e);
            state = t.State;
            observations.Add(t.Observation);
            total += t.Effort;
        }
        return (state, [.. observations], total);
    }

    // ---- the policy: what a trigger does and what a consumer sees ----

    /// <summary>A trigger: Eager runs the update now, Lazy sets the marker, Reference does nothing.</summary>
    public static Vcpu Trigger(Policy policy, Vm vm, Vcpu v, ref Effort effort)
    {
        switch (policy.Scheme)
        {
            case UpdateScheme.Eager:
                return Update(policy, vm, v, ref effort);
            case UpdateScheme.Lazy:
            case UpdateScheme.LazyUnfixed:
                return v.CpuidDynamicBitsDirty ? v : v with { CpuidDynamicBitsDirty = true };
            case UpdateScheme.Reference:
                return v;
            default:
                throw new UnreachableException(policy.Scheme.ToString());
        }
    }

    /// <summary>
    /// A consumer (<c>kvm_cpuid</c>, KVM_GET_CPUID2): the state after any pending update and the table the
    /// observation reads. Lazy clears the marker first, then updates; Reference computes without storing.
    /// </summary>
    public static (Vcpu Vcpu, CpuidTable View) Observe(Policy policy, Vm vm, Vcpu v, ref Effort effort)
    {
        switch (policy.Scheme)
        {
            case UpdateScheme.Eager:
                return (v, v.Cpuid);
            case UpdateScheme.Lazy:
            case UpdateScheme.LazyUnfixed:
                if (!v.CpuidDynamicBitsDirty)
                {
                    return (v, v.Cpuid);
                }
                var cleared = v with { CpuidDynamicBitsDirty = false };
                var updated = policy.Has(KvmBug.ClearMarkerWithoutMaterialize) ? cleared : Update(policy, vm, cleared, ref effort);
                return (updated, updated.Cpuid);
            case UpdateScheme.Reference:
                var m = DynamicBits.Materialize(vm, v, v.Cpuid, v.Caps, policy);
                effort += new Effort(1, m.XstateSizeComputations);
                return (v, m.Table);
            default:
                throw new UnreachableException(policy.Scheme.ToString());
        }
    }

    /// <summary><c>kvm_update_cpuid_runtime</c> on the installed table; the same instance if nothing changed.</summary>
    private static Vcpu Update(Policy policy, Vm vm, Vcpu v, ref Effort effort)
    {
        var m = DynamicBits.Materialize(vm, v, v.Cpuid, v.Caps, policy);
        effort += new Effort(1, m.XstateSizeComputations);
        return ReferenceEquals(m.Table, v.Cpuid) && m.Caps == v.Caps && !v.CpuidDynamicBitsDirty
            ? v
            : v with { Cpuid = m.Table, Caps = m.Caps, CpuidDynamicBitsDirty = false };
    }

    // ---- CR4 ----

    /// <summary>
    /// The vendor <c>set_cr4</c> hook (<c>vmx_set_cr4</c>): stores CR4 and triggers iff OSXSAVE or PKE flipped.
    /// Every CR4 path goes through it: MOV CR4, KVM_SET_SREGS, INIT, SMM entry, RSM and the nested loads.
    /// </summary>
    private static Vcpu VendorSetCr4(Policy policy, Vm vm, Vcpu v, ulong cr4, bool vmExitLoad, ref Effort effort, bool? guestMode = null)
    {
        var old = v.Cr4;
        var mode = guestMode ?? v.GuestMode;
        if (old == cr4 && mode == v.GuestMode)
        {
            return v;
        }
        var trigger = policy.Has(KvmBug.Cr4TriggerOnlyOnSet)
            ? (cr4 & ~old & Cr4.DynamicBits) != 0
            : ((old ^ cr4) & Cr4.DynamicBits) != 0;
        if (policy.Has(KvmBug.ForgetCr4Trigger) || (vmExitLoad && policy.Has(KvmBug.VmExitCr4NotTrigger)))
        {
            trigger = false;
        }
        if (trigger && policy.IsLazy)
        {
            // The lazy trigger folded into the same copy: nested transitions write CR4, mode and marker at once.
            return v with { Cr4 = cr4, GuestMode = mode, CpuidDynamicBitsDirty = true };
        }
        var next = v with { Cr4 = cr4, GuestMode = mode };
        return trigger ? Trigger(policy, vm, next, ref effort) : next;
    }

    /// <summary>
    /// <c>kvm_is_valid_cr4</c>: no bit outside KVM's writable set, and no bit whose feature the guest lacks
    /// (<c>__cr4_reserved_bits</c>, queried through the guarded capability API).
    /// </summary>
    public static bool IsValidCr4(Vcpu v, ulong cr4) =>
        (cr4 & ~Cr4.Architectural) == 0 && (cr4 & v.Guest.Cr4ReservedByFeatures) == 0;

    private static (Vcpu, Vm, Observation?) GuestMovToCr4(Policy policy, Vm vm, Vcpu v, ulong cr4, ref Effort effort) =>
        IsValidCr4(v, cr4) ? (VendorSetCr4(policy, vm, v, cr4, vmExitLoad: false, ref effort), vm, null) : (v, vm, Gp);

    // ---- XCR0 ----

    /// <summary>
    /// <c>__kvm_set_xcr</c>: validates XCR0 against the guest's supported features and the architectural
    /// pairings, stores it, and triggers iff a bit of <c>XFEATURE_MASK_EXTEND</c> changed. Null if refused.
    /// </summary>
    public static Vcpu? SetXcr(Policy policy, Vm vm, Vcpu v, uint index, ulong xcr0, ref Effort effort)
    {
        if (!IsValidXcr0(vm, v, index, xcr0))
        {
            return null;
        }
        var old = v.Xcr0;
        if (old == xcr0)
        {
            return v;
        }
        var trigger = ((old ^ xcr0) & Host.XsaveLayout.XfeatureMaskExtend) != 0 && !policy.Has(KvmBug.ForgetXcr0Trigger);
        if (trigger && policy.IsLazy)
        {
            return v with { Xcr0 = xcr0, CpuidDynamicBitsDirty = true }; // the lazy trigger in the same copy
        }
        var next = v with { Xcr0 = xcr0 };
        return trigger ? Trigger(policy, vm, next, ref effort) : next;
    }

    /// <summary>The checks of <c>__kvm_set_xcr</c> (index 0 only; x87 always; YMM needs SSE; MPX, AVX-512 and AMX all-or-none).</summary>
    public static bool IsValidXcr0(Vm vm, Vcpu v, uint index, ulong xcr0)
    {
        if (index != 0 || (xcr0 & XfeatureFp) == 0)
        {
            return false;
        }
        if ((xcr0 & XfeatureYmm) != 0 && (xcr0 & XfeatureSse) == 0)
        {
            return false;
        }
        var valid = GuestCpuCaps.SupportedXcr0(v) | XfeatureFp;
        if ((xcr0 & ~valid) != 0)
        {
            return false;
        }
        if (((xcr0 & XfeatureBndregs) == 0) != ((xcr0 & XfeatureBndcsr) == 0))
        {
            return false;
        }
        if ((xcr0 & XfeatureAvx512) != 0 && ((xcr0 & XfeatureYmm) == 0 || (xcr0 & XfeatureAvx512) != XfeatureAvx512))
        {
            return false;
        }
        return (xcr0 & XfeatureXtile) == 0 || (xcr0 & XfeatureXtile) == XfeatureXtile;
    }

    /// <summary><c>kvm_emulate_xsetbv</c>: #UD without CR4.OSXSAVE, #GP at CPL &gt; 0 or for a refused value.</summary>
    private static (Vcpu, Vm, Observation?) GuestXsetbv(Policy policy, Vm vm, Vcpu v, uint index, ulong value, ref Effort effort)
    {
        if (!v.Cr4Has(Cr4.OsXsave))
        {
            return (v, vm, Ud);
        }
        if (v.Cpl != 0)
        {
            return (v, vm, Gp);
        }
        return SetXcr(policy, vm, v, index, value, ref effort) is { } next ? (next, vm, null) : (v, vm, Gp);
    }

    /// <summary>KVM_SET_XCRS (<c>kvm_vcpu_ioctl_x86_set_xcrs</c>): EINVAL without host XSAVE or for a refused XCR0.</summary>
    private static (Vcpu, Vm, Observation?) SetXcrs(Policy policy, Vm vm, Vcpu v, ulong xcr0, ref Effort effort)
    {
        var hostXsave = vm.Host.Cpuid.IndexOfFunction(1) is var i and >= 0 && vm.Host.Cpuid[i].Has(CpuidRegister.Ecx, 26);
        if (!hostXsave)
        {
            return (v, vm, Einval);
        }
        return SetXcr(policy, vm, v, 0, xcr0, ref effort) is { } next ? (next, vm, Ok0) : (v, vm, Einval);
    }

    /// <summary>
    /// <c>sev_es_sync_from_ghcb</c>: 6.15 copies the GHCB's XCR0 without validation and always triggers; 6.18
    /// routes it through <c>__kvm_set_xcr</c> (refused values are ignored, only changes trigger).
    /// </summary>
    private static Vcpu SevEsSyncFromGhcb(Policy policy, Vm vm, Vcpu v, ulong xcr0, ref Effort effort)
    {
        if (KernelProfiles.SevEsXcr0GoesThroughSetXcr(vm.Profile))
        {
            return SetXcr(policy, vm, v, 0, xcr0, ref effort) ?? v;
        }
        var next = v.Xcr0 == xcr0 ? v : v with { Xcr0 = xcr0 };
        return policy.Has(KvmBug.ForgetXcr0Trigger) ? next : Trigger(policy, vm, next, ref effort);
    }

    // ---- MSRs ----

    /// <summary>
    /// <c>kvm_set_msr_common</c> / <c>kvm_apic_set_base</c> for the MSRs the model knows. Null if refused (the
    /// guest gets #GP, KVM_SET_MSRS stops there).
    /// </summary>
    public static Vcpu? SetMsr(Policy policy, Vm vm, Vcpu v, uint index, ulong value, bool hostInitiated, ref Effort effort) =>
        index switch
        {
            Msr.ApicBase => ApicSetBase(policy, vm, v, value, hostInitiated, ref effort),
            Msr.MiscEnable => SetMiscEnable(policy, vm, v, value, hostInitiated, ref effort),
            Msr.Xss => SetXss(policy, vm, v, value, hostInitiated, ref effort),
            Msr.MiscFeaturesEnables => (value & ~Msr.MiscFeaturesCpuidFault) != 0 ? null
                : v.MiscFeaturesEnables == value ? v
                : v with { MiscFeaturesEnables = value },
            Msr.TsxCtrl => (value & ~0x3ul) != 0 ? null
                : v.TsxCtrl == value ? v
                : v with { TsxCtrl = value },
            _ => null,
        };

    /// <summary><c>kvm_get_msr_common</c> for the MSRs the model knows; null if the read faults.</summary>
    public static ulong? GetMsr(Vm vm, Vcpu v, uint index, bool hostInitiated) =>
        index switch
        {
            Msr.ApicBase => v.ApicBase,
            Msr.MiscEnable => v.MiscEnable,
            Msr.Xss => hostInitiated || GuestCpuCaps.Has(v, GuestFeature.Xsaves) ? v.Xss : null,
            Msr.MiscFeaturesEnables => v.MiscFeaturesEnables,
            Msr.TsxCtrl => v.TsxCtrl,
            Msr.PlatformInfo => Msr.PlatformInfoCpuidFault,
            _ => null,
        };

    /// <summary>
    /// <c>kvm_apic_set_base</c>: reserved bits (0–7, 9, above MAXPHYADDR, EXTD without x2APIC) and the invalid
    /// mode (EXTD without EN) always refuse; the guest may not go x2APIC→xAPIC or disabled→x2APIC. Then
    /// <c>__kvm_apic_set_base</c> triggers iff the enable bit flipped.
    /// </summary>
    private static Vcpu? ApicSetBase(Policy policy, Vm vm, Vcpu v, ulong value, bool hostInitiated, ref Effort effort)
    {
        var old = v.ApicBase;
        if (old == value && KernelProfiles.SkipsUnchangedApicBase(vm.Profile))
        {
            return v;
        }
        var maxPhys = GuestCpuCaps.MaxPhysAddr(v);
        var reserved = (maxPhys >= 64 ? 0 : ~0ul << maxPhys) | 0x2FFul;
        reserved |= GuestCpuCaps.Has(v, GuestFeature.X2Apic) ? 0 : Msr.ApicBaseExtd;
        var newMode = ApicMode(value);
        if ((value & reserved) != 0 || newMode == LapicMode.Invalid)
        {
            return null;
        }
        var oldMode = ApicMode(old);
        if (!hostInitiated
            && ((oldMode == LapicMode.X2Apic && newMode == LapicMode.XApic)
                || (oldMode == LapicMode.Disabled && newMode == LapicMode.X2Apic)))
        {
            return null;
        }
        return ApicSetBaseUnchecked(policy, vm, v, value, ref effort);
    }

    /// <summary><c>__kvm_apic_set_base</c>: store; trigger iff the enable bit flipped.</summary>
    private static Vcpu ApicSetBaseUnchecked(Policy policy, Vm vm, Vcpu v, ulong value, ref Effort effort)
    {
        var old = v.ApicBase;
        if (old == value)
        {
            return v;
        }
        var trigger = ((old ^ value) & Msr.ApicBaseEnable) != 0 && !policy.Has(KvmBug.ForgetApicBaseTrigger);
        if (trigger && policy.IsLazy)
        {
            return v with { ApicBase = value, CpuidDynamicBitsDirty = true }; // the lazy trigger in the same copy
        }
        var next = v with { ApicBase = value };
        return trigger ? Trigger(policy, vm, next, ref effort) : next;
    }

    private enum LapicMode
    {
        Disabled,
        Invalid,
        XApic,
        X2Apic,
    }

    private static LapicMode ApicMode(ulong apicBase) =>
        (apicBase & (Msr.ApicBaseEnable | Msr.ApicBaseExtd)) switch
        {
            0 => LapicMode.Disabled,
            Msr.ApicBaseExtd => LapicMode.Invalid,
            Msr.ApicBaseEnable => LapicMode.XApic,
            _ => LapicMode.X2Apic,
        };

    /// <summary>
    /// <c>kvm_set_msr_common</c>, MSR_IA32_MISC_ENABLE: the guest may not change the PMU read-only bits and its
    /// EMON writes are ignored; with the MISC_ENABLE_NO_MWAIT quirk disabled a change of bit 18 needs guest SSE3
    /// and triggers.
    /// </summary>
    private static Vcpu? SetMiscEnable(Policy policy, Vm vm, Vcpu v, ulong value, bool hostInitiated, ref Effort effort)
    {
        var old = v.MiscEnable;
        var data = value;
        if (!hostInitiated)
        {
            if (((old ^ data) & Msr.MiscEnablePmuReadOnly) != 0)
            {
                return null;
            }
            data = (data & ~Msr.MiscEnableEmon) | (old & Msr.MiscEnableEmon);
        }
        if (!vm.QuirkInEffect(Model.KvmQuirks.MiscEnableNoMwait) && ((old ^ data) & Msr.MiscEnableMwait) != 0)
        {
            if (!GuestCpuCaps.Has(v, GuestFeature.Sse3))
            {
                return null;
            }
            return Trigger(policy, vm, v with { MiscEnable = data }, ref effort);
        }
        return old == data ? v : v with { MiscEnable = data };
    }

    /// <summary>
    /// <c>kvm_set_msr_common</c>, MSR_IA32_XSS: guest writes need XSAVES; the value must be within the guest's
    /// supported XSS. 6.15 triggers on every accepted write, 6.18 only on a change.
    /// </summary>
    private static Vcpu? SetXss(Policy policy, Vm vm, Vcpu v, ulong value, bool hostInitiated, ref Effort effort)
    {
        if (!hostInitiated && !GuestCpuCaps.Has(v, GuestFeature.Xsaves))
        {
            return null;
        }
        if ((value & ~GuestCpuCaps.SupportedXss(v)) != 0)
        {
            return null;
        }
        var changed = v.Xss != value;
        var trigger = (changed || !KernelProfiles.XssTriggersOnlyOnChange(vm.Profile)) && !policy.Has(KvmBug.ForgetXssTrigger);
        if (trigger && policy.IsLazy)
        {
            return v with { Xss = value, CpuidDynamicBitsDirty = true }; // the lazy trigger in the same copy
        }
        var next = changed ? v with { Xss = value } : v;
        return trigger ? Trigger(policy, vm, next, ref effort) : next;
    }

    /// <summary>KVM_SET_MSRS (<c>__msr_io</c>): host-initiated writes until the first refusal; returns the count.</summary>
    private static (Vcpu, Vm, Observation?) SetMsrs(Policy policy, Vm vm, Vcpu v, ValueArray<MsrEntry> entries, ref Effort effort)
    {
        var count = 0;
        foreach (var (index, value) in entries)
        {
            if (SetMsr(policy, vm, v, index, value, hostInitiated: true, ref effort) is not { } next)
            {
                break;
            }
            v = next;
            count++;
        }
        return (v, vm, count == 0 ? Ok0 : new Observation.IoctlDone(count));
    }

    // ---- CPUID consumers ----

    /// <summary>
    /// <c>kvm_emulate_cpuid</c>: with CPUID faulting at CPL &gt; 0, #GP and no materialization; otherwise
    /// <c>kvm_cpuid</c> (materialize if dirty, then look up).
    /// </summary>
    private static (Vcpu, Vm, Observation?) EmulateCpuid(Policy policy, Vm vm, Vcpu v, uint leaf, uint subleaf, ref Effort effort)
    {
        if (v.CpuidFaults)
        {
            return (v, vm, Gp);
        }
        var (next, view) = Observe(policy, vm, v, ref effort);
        var rule = policy.Has(KvmBug.LookupByLeafSubleaf) ? LookupRule.KeyedByLeafSubleaf : LookupRule.KvmOrderedFirstMatch;
        var a = CpuidLookup.Answer(view, leaf, subleaf, v.TsxCtrl, exactOnly: false, rule);
        return (next, vm, new Observation.CpuidResult(leaf, subleaf, a.Eax, a.Ebx, a.Ecx, a.Edx));
    }

    /// <summary><c>kvm_vcpu_ioctl_get_cpuid2</c>: E2BIG before materializing if the buffer is too small.</summary>
    private static (Vcpu, Vm, Observation?) GetCpuid2(Policy policy, Vm vm, Vcpu v, int nent, ref Effort effort)
    {
        if (nent < v.Cpuid.Count)
        {
            return (v, vm, E2big);
        }
        var (next, view) = Observe(policy, vm, v, ref effort);
        return (next, vm, new Observation.Cpuid2(view));
    }

    /// <summary>
    /// <c>kvm_emulate_monitor_mwait</c> after patch 4/5: NOP under MWAIT_NEVER_UD_FAULTS; otherwise #UD unless
    /// enabled, where "enabled" is the cached MWAIT capability while MISC_ENABLE_NO_MWAIT is in effect
    /// (userspace owns it) and MISC_ENABLE bit 18 once the quirk is disabled.
    /// </summary>
    private static Observation EmulateMonitorMwait(Vm vm, Vcpu v)
    {
        if (vm.QuirkInEffect(KvmQuirks.MwaitNeverUdFaults))
        {
            return Nop;
        }
        var enabled = vm.QuirkInEffect(KvmQuirks.MiscEnableNoMwait) || !KernelProfiles.MwaitEnableFromMiscEnable(vm.Profile)
            ? GuestCpuCaps.Has(v, GuestFeature.Mwait)
            : (v.MiscEnable & Msr.MiscEnableMwait) != 0;
        return enabled ? Nop : Ud;
    }

    // ---- KVM_SET_CPUID2 ----

    /// <summary>
    /// <c>kvm_set_cpuid</c>. Before the first run: <c>kvm_check_cpuid</c>, install, recompute the capability bits,
    /// and update unconditionally (<c>kvm_vcpu_after_set_cpuid</c>). After it: the incoming table is updated and must
    /// equal the installed one (<c>kvm_cpuid_check_equal</c>). The Dec-2025 fix first brings the installed table
    /// up to date if dirty; without it (LazyUnfixed) the comparison sees stale bits and, on the EINVAL, the pending
    /// update is lost because the marker was already cleared.
    /// </summary>
    private static (Vcpu, Vm, Observation?) SetCpuid2(Policy policy, Vm vm, Vcpu v, CpuidTable incoming, ref Effort effort)
    {
        if (incoming.Count > CpuidTable.MaxEntries)
        {
            return (v, vm, E2big);
        }
        var current = v;
        if (policy.Scheme == UpdateScheme.Lazy && v.CpuidDynamicBitsDirty)
        {
            current = Update(policy, vm, v with { CpuidDynamicBitsDirty = false }, ref effort);
        }

        if (v.HasRun || v.GuestMode)
        {
            return SetCpuid2AfterRun(policy, vm, current, incoming, ref effort);
        }

        if (!IsValidCpuid(incoming))
        {
            return (current, vm, Einval);
        }
        var caps = DynamicBits.CapsOf(incoming);
        var guest = GuestCpuCaps.Derive(incoming, vm.Host.SupportedXcr0, KernelProfiles.SupportedXss(vm.Profile, vm.Host), KernelProfiles.AlwaysReservedCr4(vm.Profile));
        if (policy.Scheme == UpdateScheme.Reference)
        {
            return (current with { Cpuid = incoming, Caps = caps, Guest = guest }, vm, Ok0);
        }
        var installed = current with { Cpuid = incoming, Caps = caps, Guest = guest, CpuidDynamicBitsDirty = false };
        return (Update(policy, vm, installed, ref effort), vm, Ok0);
    }

    private static (Vcpu, Vm, Observation?) SetCpuid2AfterRun(Policy policy, Vm vm, Vcpu current, CpuidTable incoming, ref Effort effort)
    {
        var updatedIncoming = DynamicBits.Materialize(vm, current, incoming, current.Caps, policy);
        effort += new Effort(1, updatedIncoming.XstateSizeComputations);
        var installedView = current.Cpuid;
        if (policy.Scheme == UpdateScheme.Reference)
        {
            var m = DynamicBits.Materialize(vm, current, current.Cpuid, current.Caps, policy);
            effort += new Effort(1, m.XstateSizeComputations);
            installedView = m.Table;
        }
        // kvm_cpuid_check_equal updates the incoming table, which clears the marker whatever the outcome.
        var cleared = current.CpuidDynamicBitsDirty ? current with { CpuidDynamicBitsDirty = false } : current;
        if (!updatedIncoming.Table.Equals(installedView))
        {
            return (cleared, vm, Einval);
        }
        if (policy.Scheme == UpdateScheme.Reference)
        {
            return (cleared, vm, Ok0);
        }
        return (cleared with { Cpuid = updatedIncoming.Table, Caps = updatedIncoming.Caps }, vm, Ok0);
    }

    /// <summary><c>kvm_check_cpuid</c>: the virtual-address width in CPUID.0x80000008:EAX[15:8] must be 0, 48 or 57.</summary>
    public static bool IsValidCpuid(CpuidTable table)
    {
        var i = table.IndexOfFunction(0x8000_0008);
        if (i < 0)
        {
            return true;
        }
        var vaddrBits = (table[i].Eax >> 8) & 0xFF;
        return vaddrBits is 0 or 48 or 57;
    }

    // ---- quirks ----

    /// <summary>KVM_CAP_DISABLE_QUIRKS2: EINVAL for unsupported bits; the mask is OR-ed in (6.1: assigned) and never marks dirty.</summary>
    private static (Vcpu, Vm, Observation?) DisableQuirks2(Vm vm, Vcpu v, ulong mask)
    {
        var quirks = (KvmQuirks)mask;
        if ((quirks & ~vm.SupportedQuirks) != 0)
        {
            return (v, vm, Einval);
        }
        var disabled = KernelProfiles.AssignsDisabledQuirks(vm.Profile) ? quirks : vm.DisabledQuirks | quirks;
        return (v, disabled == vm.DisabledQuirks ? vm : vm with { DisabledQuirks = disabled }, Ok0);
    }

    // ---- mode switches ----

    /// <summary>
    /// <c>enter_smm</c>: saves CR4 and CPL in SMRAM, clears CR4 through <c>set_cr4</c>, then always triggers. An SMI
    /// while already in SMM stays latched (no change).
    /// </summary>
    private static Vcpu EnterSmm(Policy policy, Vm vm, Vcpu v, ref Effort effort)
    {
        if (v.InSmm)
        {
            return v;
        }
        var saved = v with { InSmm = true, SmramCr4 = v.Cr4, SmramCpl = v.Cpl, Cpl = 0 };
        if (policy.Has(KvmBug.SmiNotTrigger))
        {
            return saved with { Cr4 = 0 };
        }
        var cleared = VendorSetCr4(policy, vm, saved, 0, vmExitLoad: false, ref effort);
        return Trigger(policy, vm, cleared, ref effort);
    }

    /// <summary>RSM: restores CPL and CR4 (through <c>kvm_set_cr4</c>, so a trigger iff OSXSAVE/PKE change).</summary>
    private static Vcpu Rsm(Policy policy, Vm vm, Vcpu v, ref Effort effort) =>
        VendorSetCr4(policy, vm, v with { InSmm = false, Cpl = v.SmramCpl }, v.SmramCr4, vmExitLoad: false, ref effort);

    /// <summary><c>kvm_vcpu_reset(vcpu, true)</c>: CR4 ← 0 and CPL 0; INIT is blocked (latched) in SMM.</summary>
    private static Vcpu Init(Policy policy, Vm vm, Vcpu v, ref Effort effort) =>
        v.InSmm ? v : VendorSetCr4(policy, vm, v.Cpl == 0 ? v : v with { Cpl = 0 }, 0, vmExitLoad: false, ref effort);

    /// <summary>
    /// <c>kvm_vcpu_reset(vcpu, false)</c>, in the kernel's order: the local APIC reset puts APIC base back to its
    /// default (<c>__kvm_apic_set_base</c>); SMM and guest mode are left; MISC_FEATURES_ENABLES and MISC_ENABLE are
    /// assigned directly; XCR0 ← x87 (<c>__kvm_set_xcr</c>) and XSS ← 0 (host-initiated write); finally the vendor
    /// reset clears CR4 through <c>set_cr4</c>. The table is kept. (KVM resets only at vCPU creation, when the table
    /// is still empty, so Eager's intermediate updates there cannot be observed.)
    /// </summary>
    private static Vcpu Reset(Policy policy, Vm vm, Vcpu v, ref Effort effort)
    {
        v = ApicSetBaseUnchecked(policy, vm, v, Msr.ApicBaseDefault, ref effort);
        var plain = v with
        {
            MiscEnable = Msr.MiscEnableDefault,
            MiscFeaturesEnables = 0,
            Cpl = 0,
            InSmm = false,
            GuestMode = false,
        };
        v = plain == v ? v : plain;
        v = SetXcr(policy, vm, v, 0, XfeatureFp, ref effort) ?? v;
        v = SetXss(policy, vm, v, 0, hostInitiated: true, ref effort) ?? v;
        return VendorSetCr4(policy, vm, v, 0, vmExitLoad: false, ref effort);
    }

    // ---- nested VMX ----

    /// <summary>
    /// Nested VM-entry (<c>nested_vmx_enter_non_root_mode</c>): enter guest mode, load GUEST_CR4 via
    /// <c>vmx_set_cr4</c> (<c>prepare_vmcs02</c>), then the VM-entry MSR-load list via <c>kvm_set_msr</c>
    /// (<c>nested_vmx_load_msr</c>). A refused entry i gives <see cref="Observation.VmEntryMsrLoadFailed"/>(i + 1).
    /// </summary>
    private static (Vcpu, Vm, Observation?) NestedVmEntry(Policy policy, Vm vm, Vcpu v, VcpuEvent.NestedVmEntry entry, ref Effort effort)
    {
        v = VendorSetCr4(policy, vm, v, entry.GuestCr4, vmExitLoad: false, ref effort, guestMode: true);
        var (loaded, failed) = LoadMsrList(policy, vm, v, entry.MsrLoad, ref effort);
        return (loaded, vm, failed == 0 ? null : new Observation.VmEntryMsrLoadFailed(failed));
    }

    /// <summary>
    /// Nested VM-exit (<c>load_vmcs12_host_state</c>): leave guest mode, load HOST_CR4 via <c>vmx_set_cr4</c>,
    /// then the VM-exit MSR-load list; a refused entry is a VMX abort.
    /// </summary>
    private static (Vcpu, Vm, Observation?) NestedVmExit(Policy policy, Vm vm, Vcpu v, VcpuEvent.NestedVmExit exit, ref Effort effort)
    {
        v = VendorSetCr4(policy, vm, v, exit.HostCr4, vmExitLoad: true, ref effort, guestMode: false);
        var (loaded, failed) = LoadMsrList(policy, vm, v, exit.MsrLoad, ref effort);
        return (loaded, vm, failed == 0 ? null : new Observation.VmxAbort(Msr.VmxAbortLoadHostMsrFail));
    }

    /// <summary><c>nested_vmx_load_msr</c>: entries in order through the guest WRMSR rules; returns the 1-based index of the first refusal, or 0.</summary>
    private static (Vcpu, uint) LoadMsrList(Policy policy, Vm vm, Vcpu v, ValueArray<MsrEntry> list, ref Effort effort)
    {
        for (var i = 0; i < list.Count; i++)
        {
            var (index, value) = list[i];
            if (SetMsr(policy, vm, v, index, value, hostInitiated: false, ref effort) is not { } next)
            {
                return (v, (uint)i + 1);
            }
            v = next;
        }
        return (v, 0);
    }

    // ---- KVM_SET_SREGS ----

    /// <summary>
    /// KVM_SET_SREGS (<c>__set_sregs_common</c>): EINVAL for an invalid CR4 (<c>kvm_is_valid_sregs</c>) or a refused
    /// APIC base (host-initiated: transitions are free, reserved bits and the invalid mode are not); then the APIC
    /// base, then CR4 through <c>set_cr4</c>.
    /// </summary>
    private static (Vcpu, Vm, Observation?) SetSregs(Policy policy, Vm vm, Vcpu v, ulong cr4, ulong apicBase, ref Effort effort)
    {
        if (!IsValidCr4(v, cr4))
        {
            return (v, vm, Einval);
        }
        if (ApicSetBase(policy, vm, v, apicBase, hostInitiated: true, ref effort) is not { } withApic)
        {
            return (v, vm, Einval);
        }
        return (VendorSetCr4(policy, vm, withApic, cr4, vmExitLoad: false, ref effort), vm, Ok0);
    }
}
