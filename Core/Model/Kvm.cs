using System.Diagnostics;
using System.Runtime.CompilerServices;
using CpuidFunctional.Core.Cpuid;
using CpuidFunctional.Core.Dynamic;
using CpuidFunctional.Core.Host;
using CpuidFunctional.Core.State;

namespace CpuidFunctional.Core.Model;

/// <summary>
/// The pure transition function: <c>Step(policy, state, event) → (state', observation, effort)</c>. One handler per
/// KVM function, named after it (x86.c, cpuid.c, lapic.c, smm.c, nested.c). A handler that may change a dynamic
/// input calls <see cref="Handling.Trigger"/>, the one place the update scheme acts on a write (spec §3); consumers
/// call <see cref="Handling.Observe"/>, the one place it acts on an observation (spec §4). Which writes are triggers
/// and the few other rules a wrong variant may replace come from <see cref="Policy.Rules"/>.
/// </summary>
public static class Kvm
{
    private static readonly Observation Ok0 = new Observation.IoctlDone(0);
    private static readonly Observation Gp = new Observation.Fault(X86Exception.GP);
    private static readonly Observation Ud = new Observation.Fault(X86Exception.UD);
    private static readonly Observation Einval = new Observation.IoctlError(Errno.EINVAL);
    private static readonly Observation E2big = new Observation.IoctlError(Errno.E2BIG);
    private static readonly Observation Eperm = new Observation.IoctlError(Errno.EPERM);
    private static readonly Observation Nop = new Observation.MwaitNop();
    private static readonly Observation CpuidExitsToL1 = new Observation.ExitToL1(Observation.ExitToL1.Cpuid);
    private static readonly Observation XsetbvExitsToL1 = new Observation.ExitToL1(Observation.ExitToL1.Xsetbv);
    private static readonly Observation CrAccessExitsToL1 = new Observation.ExitToL1(Observation.ExitToL1.CrAccess);
    private static readonly Observation SvmCpuidExitsToL1 = new Observation.SvmExitToL1(SvmExitCode.Cpuid);
    private static readonly Observation SvmXsetbvExitsToL1 = new Observation.SvmExitToL1(SvmExitCode.Xsetbv);
    private static readonly Observation SvmVmrunExitsToL1 = new Observation.SvmExitToL1(SvmExitCode.Vmrun);
    private static readonly Observation SvmShutdownExitsToL1 = new Observation.SvmExitToL1(SvmExitCode.Shutdown);
    private static readonly Observation TripleFaultExitsToL1 = new Observation.ExitToL1(Observation.ExitToL1.TripleFault);
    private static readonly Observation Shutdown = new Observation.ExitShutdown();
    private static readonly Observation Halted = new Observation.Halted();

    /// <summary><c>MAX_IO_MSRS</c> (x86.c): KVM_SET_MSRS and KVM_GET_MSRS take fewer entries than this.</summary>
    public const int MaxIoMsrs = 256;

    /// <summary>Applies one event.</summary>
    public static Transition Step(Policy policy, KvmState state, VcpuEvent e) => new Handling(policy, state, e).Handle();

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

    /// <summary>
    /// <c>__kvm_is_valid_cr4</c>, the common part of <c>kvm_is_valid_cr4</c>: no bit outside KVM's writable set, and no
    /// bit whose feature the guest lacks (<c>__cr4_reserved_bits</c>, queried through the guarded capability API). The
    /// vendor part is <see cref="VendorIsValidCr4"/>.
    /// </summary>
    public static bool IsValidCr4(Vcpu v, ulong cr4) =>
        (cr4 & ~Cr4.Architectural) == 0 && (cr4 & v.Guest.Cr4ReservedByFeatures) == 0;

    /// <summary>
    /// The EFER bits KVM leaves free on <paramref name="host"/>, the complement of <c>efer_reserved_bits</c>: SCE, LME and
    /// LMA; NXE where the host has NX (kvm_amd needs it: always); under kvm_amd also FFXSR with the host's FXSR_OPT,
    /// AUTOIBRS with the host's from 6.3 (<see cref="KernelProfiles.OffersAutoIbrsEfer"/>), and SVME and LMSLE (nested
    /// virtualization, kvm_amd's default). A host write (KVM_SET_MSRS) may set these.
    /// </summary>
    public static ulong EferKvmBits(HostCpu host, KernelProfile profile)
    {
        var bits = Efer.Sce | Efer.Lme | Efer.Lma;
        if (!host.IsAmdOrHygon)
        {
            return bits | (host.HasNx ? Efer.Nxe : 0);
        }
        var autoIbrs = KernelProfiles.OffersAutoIbrsEfer(profile) && host.HasAutoIbrs;
        return bits | Efer.Nxe | (host.HasFxsrOpt ? Efer.Ffxsr : 0) | (autoIbrs ? Efer.AutoIbrs : 0) | Efer.Svme | Efer.Lmsle;
    }

    /// <summary>
    /// The EFER bits a guest may set (<c>kvm_valid_efer</c>): <see cref="EferKvmBits"/> less the ones whose feature the
    /// guest lacks (<c>__kvm_valid_efer</c>: AUTOIBRS, FFXSR with FXSR_OPT, SVME with SVM, LME and LMA with LM, NXE with
    /// NX; SCE and LMSLE ask for nothing). <paramref name="guestFeatures"/> is the guest's <see cref="GuestCaps.Features"/>.
    /// </summary>
    public static ulong EferValidBits(HostCpu host, KernelProfile profile, ulong guestFeatures)
    {
        bool Has(GuestFeature f) => (guestFeatures & f.Mask) != 0;
        var gated = Efer.Sce | Efer.Lmsle
            | (Has(GuestFeature.Lm) ? Efer.Lme | Efer.Lma : 0)
            | (Has(GuestFeature.Nx) ? Efer.Nxe : 0)
            | (Has(GuestFeature.FxsrOpt) ? Efer.Ffxsr : 0)
            | (Has(GuestFeature.Svm) ? Efer.Svme : 0)
            | (Has(GuestFeature.AutoIbrs) ? Efer.AutoIbrs : 0);
        return EferKvmBits(host, profile) & gated;
    }

    /// <summary>
    /// Whether <c>kvm_set_msr_common</c> takes a write of MSR_PLATFORM_INFO: only from the host (KVM_SET_MSRS); where it
    /// is a feature MSR (<see cref="KernelProfiles.PlatformInfoIsFeatureMsr"/>) not with another value once the vCPU has
    /// run, and before that (6.1) not clearing CPUID-faulting support while MISC_FEATURES_ENABLES has faulting on.
    /// </summary>
    public static bool PlatformInfoWriteAllowed(KernelProfile profile, bool hostInitiated, bool hasRun, ulong current, ulong value, ulong miscFeaturesEnables) =>
        hostInitiated
        && (KernelProfiles.PlatformInfoIsFeatureMsr(profile)
            ? !hasRun || value == current
            : (value & Msr.PlatformInfoCpuidFault) != 0 || (miscFeaturesEnables & Msr.MiscFeaturesCpuidFault) == 0);

    /// <summary>
    /// <c>svm_set_efer</c>: whether storing <paramref name="efer"/> in SVM guest mode leaves nested mode
    /// (<c>svm_leave_nested</c>): when SVME is cleared. KVM's EFER in guest mode is L2's, which always has SVME; Core keeps
    /// L1's (nested transitions carry no EFER), so guest mode alone stands for "SVME was set". Not in SMM, whose RSM
    /// returns to L2 (<c>svm_set_efer</c> keeps the nested state there).
    /// </summary>
    public static bool SvmSetEferLeavesNested(bool svmGuestMode, bool inSmm, ulong efer) =>
        svmGuestMode && !inSmm && (efer & Efer.Svme) == 0;

    /// <summary>
    /// The vendor <c>is_valid_cr4</c> hook as far as Core can judge it: <c>vmx_is_valid_cr4</c> refuses CR4.VMXE in
    /// SMM (KVM runs SMM under the default treatment, without VMX); <c>svm_is_valid_cr4</c> accepts everything. VMX
    /// operation's fixed CR4 bits, the hook's other rule, are the interpreter's: it keeps VMXON.
    /// </summary>
    public static bool VendorIsValidCr4(Vm vm, Vcpu v, ulong cr4) => (cr4 & Cr4.Vmxe) == 0 || !v.InSmm || vm.Host.IsAmdOrHygon;

    /// <summary>
    /// The checks <c>kvm_set_cr4</c> makes after <c>kvm_is_valid_cr4</c>, against the mode CR0 and EFER give: in long
    /// mode (EFER.LMA) PAE stays set and LA57 does not change; PCIDE turns on only in long mode; CET needs CR0.WP where
    /// the profile says so (<see cref="CetWithoutWp"/>). Not modelled: PCIDE also needs
    /// CR3[11:0] = 0 (the model has no CR3: read as 0), and outside long mode PAE paging reloads the PDPTEs from guest
    /// memory, which can fail (the model has no guest memory here).
    /// </summary>
    public static bool KvmSetCr4Allows(KernelProfile profile, ulong oldCr4, ulong cr4, ulong cr0, ulong efer)
    {
        var longMode = (efer & Efer.Lma) != 0;
        if (longMode && ((cr4 & Cr4.Pae) == 0 || ((cr4 ^ oldCr4) & Cr4.La57) != 0))
        {
            return false;
        }
        return (longMode || (cr4 & ~oldCr4 & Cr4.Pcide) == 0) && !CetWithoutWp(profile, cr0, cr4);
    }

    /// <summary>
    /// CR4.CET with CR0.WP clear, which 6.18 refuses to enter through either register: <c>kvm_set_cr4</c> will not set
    /// CET, <c>kvm_set_cr0</c> will not clear WP (<see cref="KernelProfiles.CetNeedsWp"/>). The interpreter asks it
    /// with its own CR0, which Core does not follow after the VMM's KVM_SET_SREGS.
    /// </summary>
    public static bool CetWithoutWp(KernelProfile profile, ulong cr0, ulong cr4) =>
        (cr4 & Cr4.Cet) != 0 && (cr0 & Cr0.Wp) == 0 && KernelProfiles.CetNeedsWp(profile);

    /// <summary>
    /// <c>nested_svm_intercept</c> for the L2 instructions L0 could emulate itself: the one place that decides whether
    /// an L2 CPUID or XSETBV under nested SVM is L1's (vmcb12 intercepts it) or L0's (<c>kvm_emulate_cpuid</c>,
    /// <c>kvm_emulate_xsetbv</c> with L2's state). False outside SVM guest mode. The interpreter's reflection asks it too.
    /// </summary>
    public static bool NestedSvmIntercept(Vcpu v, Vmcb12Intercepts instruction) =>
        v.GuestMode && v.Svm is { } svm && svm.IsIntercept(instruction);

    /// <summary>
    /// <c>svm->nrips_enabled</c> (<c>svm_vcpu_after_set_cpuid</c>): the host has NRIPS and so does the guest's CPUID.
    /// Only then does <c>nested_svm_vmexit</c> copy next_rip into vmcb12; without it vmcb12's next_rip keeps what L1
    /// left there, and L1 must advance save.rip itself. The interpreter's #VMEXIT asks it.
    /// </summary>
    public static bool NestedSvmNripsEnabled(Vm vm, Vcpu v) =>
        GuestCpuCaps.Has(v, GuestFeature.Nrips) && GuestFeature.Nrips.In(vm.Host.Cpuid);

    /// <summary>
    /// <c>nested_vmx_l1_wants_exit</c> for the L2 instructions L0 could emulate itself: the one place that decides
    /// whether an L2 CPUID, XSETBV or MOV to CR4 under nested VMX exits to L1, and with which basic exit reason
    /// (<see cref="Observation.ExitToL1"/>), or is L0's (null; also outside VMX guest mode). CPUID and XSETBV always exit
    /// (vmx_tests' INSN_ALWAYS_TRAP); MOV to CR4 iff it changes a bit L1 owns from L1's read shadow
    /// (<c>nested_vmx_exit_handled_cr</c>). The faults that come before an exit (SDM 26.1.1: #UD, the CPL check) are
    /// the caller's. The interpreter's reflection asks it too.
    /// </summary>
    public static uint? NestedVmxL1WantsExit(Vcpu v, VmxL2Instruction instruction, ulong value = 0) =>
        !v.GuestMode || v.Svm is not null ? null
        : instruction switch
        {
            VmxL2Instruction.Cpuid => Observation.ExitToL1.Cpuid,
            VmxL2Instruction.Xsetbv => Observation.ExitToL1.Xsetbv,
            VmxL2Instruction.MovToCr4 => v.Vmx is { } vmx && vmx.ExitHandledCr4(value) ? Observation.ExitToL1.CrAccess : null,
            VmxL2Instruction.TripleFault => Observation.ExitToL1.TripleFault,
            _ => throw new UnreachableException(instruction.ToString()),
        };

    /// <summary>
    /// The CR4 value L0 gives <c>kvm_set_cr4</c> for a guest MOV to CR4 that is L0's: in VMX guest mode with bits L1
    /// owns, <c>handle_set_cr4</c> keeps those from vmcs12's GUEST_CR4; otherwise the source operand.
    /// </summary>
    public static ulong HandleSetCr4(Vcpu v, ulong value) => v.GuestMode && v.Vmx is { } vmx ? vmx.HandleSetCr4(value) : value;

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

    /// <summary>
    /// <c>kvm_check_cpuid</c>'s second check, after the address width: a table whose CPUID.0xD.0 offers a dynamic
    /// feature (XTILEDATA) needs the VM's process to be allowed to give it (<c>fpu_enable_guest_xfd_features</c>,
    /// <see cref="SupportedCpuid.GuestMayUseXtileData"/>); otherwise EPERM. No 0xD.0, or no XTILEDATA in it, passes.
    /// </summary>
    public static bool GuestXfdFeaturesPermitted(Vm vm, CpuidTable table) =>
        table.Find(0xD, 0) is not { } d0 || (d0.Eax & Xcr0.XtileData) == 0 || SupportedCpuid.GuestMayUseXtileData(vm);

    /// <summary>
    /// Whether KVM has IA32_TSX_CTRL on this host: only kvm_intel handles it (<c>vmx_get_msr</c>, <c>vmx_set_msr</c>),
    /// through a user-return slot that exists only where the host has the MSR (<c>kvm_probe_user_return_msr</c>), which
    /// its IA32_ARCH_CAPABILITIES says. The model reads a host that enumerates IA32_ARCH_CAPABILITIES
    /// (<see cref="HostCpu.HasArchCapabilities"/>) as having TSX_CTRL, one that does not (Skylake-SP) as not. Elsewhere the
    /// MSR is one KVM does not know, and no CPUID answer hides RTM and HLE.
    /// </summary>
    public static bool HasTsxCtrl(HostCpu host) => !host.IsAmdOrHygon && host.HasArchCapabilities;

    /// <summary>
    /// IA32_TSX_CTRL after <c>vmx_vcpu_after_set_cpuid</c> (KVM_SET_CPUID2 before the first run; from 6.14 also vCPU
    /// creation, with no table): on a host with RTM and TSX_CTRL, 0 if the guest's table offers RTM, else RTM_DISABLE;
    /// otherwise <paramref name="current"/>, unchanged.
    /// </summary>
    public static ulong TsxCtrlAfterSetCpuid(HostCpu host, CpuidTable table, ulong current) =>
        HasTsxCtrl(host) && GuestFeature.Rtm.In(host.Cpuid)
            ? GuestFeature.Rtm.In(table) ? 0 : Msr.TsxCtrlRtmDisable
            : current;

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
    /// One event being handled: the policy, the state before and the event. Every handler returns the vCPU it leaves
    /// (with the runtime updates it ran, <see cref="Written"/>), or a whole <see cref="Transition"/>.
    /// </summary>
    private readonly struct Handling(Policy policy, KvmState state, VcpuEvent e)
    {
        private Vm Vm => state.Vm;

        public Transition Handle()
        {
            var v = state.Vcpu;
            return e switch
            {
                // MOV to CR4, WRMSR and RDMSR are privileged: #GP at CPL > 0 before KVM sees them.
                VcpuEvent.MovToCr4 when v.Cpl != 0 => Unchanged(Gp),
                VcpuEvent.MovToCr4(var cr4) when NestedVmxL1WantsExit(v, VmxL2Instruction.MovToCr4, cr4) is not null => Unchanged(CrAccessExitsToL1),
                VcpuEvent.MovToCr4(var cr4) => KvmSetCr4(v, HandleSetCr4(v, cr4)),
                // MOV from CR4 is privileged too; KVM does not intercept it. In L2 the bits L1 owns read from L1's read shadow.
                VcpuEvent.MovFromCr4 => Unchanged(v.Cpl != 0 ? Gp : new Observation.Cr4Value(v.GuestMode && v.Vmx is { } vmx ? vmx.ReadCr4(v.Cr4) : v.Cr4)),
                // Under nested SVM a vmcb12 XSETBV intercept comes after the #UD without CR4.OSXSAVE.
                VcpuEvent.Xsetbv when v.Cr4Has(Cr4.OsXsave) && NestedSvmIntercept(v, Vmcb12Intercepts.Xsetbv) => Unchanged(SvmXsetbvExitsToL1),
                // On VMX, XSETBV in L2 always exits to L1, after the #UD without CR4.OSXSAVE and the #GP at CPL > 0.
                VcpuEvent.Xsetbv when v.Cr4Has(Cr4.OsXsave) && v.Cpl == 0 && NestedVmxL1WantsExit(v, VmxL2Instruction.Xsetbv) is not null => Unchanged(XsetbvExitsToL1),
                VcpuEvent.Xsetbv(var index, var value) => KvmEmulateXsetbv(v, index, value),
                VcpuEvent.Wrmsr when v.Cpl != 0 => Unchanged(Gp),
                VcpuEvent.Wrmsr(var index, var value) => SetMsr(v, index, value, hostInitiated: false) is { } w ? Done(w) : Unchanged(Gp),
                VcpuEvent.XgetbvXcr0 => v.Cr4Has(Cr4.OsXsave) ? Unchanged(new Observation.Xcr0Value(v.Xcr0)) : Unchanged(Ud),
                VcpuEvent.Rdmsr when v.Cpl != 0 => Unchanged(Gp),
                VcpuEvent.Rdmsr(var index) => GetMsr(v, index, hostInitiated: false) is { } value ? Unchanged(new Observation.MsrValue(index, value)) : Unchanged(Gp),
                // On SVM, L0 sees every L2 CPUID and reflects it iff vmcb12 intercepts it; otherwise it answers with L2's state.
                VcpuEvent.Cpuid when NestedSvmIntercept(v, Vmcb12Intercepts.Cpuid) => Unchanged(SvmCpuidExitsToL1),
                // On VMX, CPUID in L2 always exits to L1 (nested_vmx_l1_wants_exit): L0 never emulates it.
                VcpuEvent.Cpuid when NestedVmxL1WantsExit(v, VmxL2Instruction.Cpuid) is not null => Unchanged(CpuidExitsToL1),
                VcpuEvent.Cpuid(var leaf, var subleaf) => KvmEmulateCpuid(v, leaf, subleaf),
                // MONITOR and MWAIT are CPL 0 instructions: above it the processor raises #UD before any intercept, and
                // KVM's #UD handler does not emulate them (not EmulateOnUD), so the #UD reaches the guest.
                VcpuEvent.MonitorMwait => Unchanged(v.Cpl != 0 ? Ud : KvmEmulateMonitorMwait(v)),
                // No in-kernel device is behind the port: userspace completes it. In L2, L1's I/O exiting and IOIO
                // intercepts are not carried by the entry events: taken as clear, so L0 handles it for L2 alike.
                VcpuEvent.PortIo(var isIn, var port, var size, var value) => Unchanged(new Observation.ExitIo(isIn, port, size, isIn ? 0 : value)),
                VcpuEvent.Hlt => Unchanged(v.Cpl != 0 ? Gp : Halted),
                VcpuEvent.NestedVmEntry entry => NestedVmxEnterNonRootMode(v, entry),
                VcpuEvent.NestedVmExit exit => NestedVmxVmexit(v, exit),
                VcpuEvent.NestedSvmVmrun run => NestedSvmVmrun(v, run),
                VcpuEvent.NestedSvmVmexit => NestedSvmVmexit(v),
                _ => HandleRare(v),
            };
        }

        /// <summary>
        /// The events a running guest makes rarely or never: a triple fault, CPL changes, SMM entry and RSM, INIT,
        /// RESET, the SEV-ES sync, and the VMM's ioctls.
        /// </summary>
        /// <remarks>
        /// Performance: kept out of <see cref="Handle"/> so that the frequent events do not pay for these cases' stack
        /// frame. In one method the JIT gave <see cref="Handle"/> a 984-byte frame and zeroed 864 bytes of struct
        /// temporaries on every call; split, its frame is 488 bytes, and kvm-like-l1's Lazy round trip (six Core events)
        /// runs about 8 % faster (docs/benchmarks.md, round 9).
        /// </remarks>
        [MethodImpl(MethodImplOptions.NoInlining)]
        private Transition HandleRare(Vcpu v) =>
            e switch
            {
                VcpuEvent.TripleFault when NestedVmxL1WantsExit(v, VmxL2Instruction.TripleFault) is not null => Unchanged(TripleFaultExitsToL1),
                VcpuEvent.TripleFault when NestedSvmIntercept(v, Vmcb12Intercepts.Shutdown) => Unchanged(SvmShutdownExitsToL1),
                VcpuEvent.TripleFault => KvmTripleFault(v),
                VcpuEvent.SetCpl(var cpl) => Done((byte)(cpl & 3) == v.Cpl ? v : v with { Cpl = (byte)(cpl & 3) }),
                VcpuEvent.EnterSmm => Done(EnterSmm(v)),
                VcpuEvent.Rsm => v.InSmm ? Done(EmRsm(v)) : Unchanged(Ud),
                VcpuEvent.Init => Done(KvmVcpuInit(v)),
                VcpuEvent.Reset => Done(KvmVcpuReset(v)),
                VcpuEvent.SevEsSyncFromGhcb(var xcr0, var xss) sync => Done(SevEsSyncFromGhcb(v, (byte)(sync.Cpl & 3), xcr0, xss)),
                VcpuEvent.SetSregs(var cr4, var apicBase) sregs => SetSregs(v, sregs.Cr0 ?? v.Cr0, cr4, sregs.Efer ?? v.Efer, apicBase),
                VcpuEvent.SetXcrs set => SetXcrs(v, set),
                // msr_io: 256 entries or more (MAX_IO_MSRS) is E2BIG before any is touched, for both directions.
                VcpuEvent.SetMsrs(var entries) when entries.Count >= MaxIoMsrs => Unchanged(E2big),
                VcpuEvent.SetMsrs(var entries) => SetMsrs(v, entries),
                VcpuEvent.SetCpuid2(var table) => KvmSetCpuid(v, table),
                VcpuEvent.GetCpuid2(var nent) => GetCpuid2(v, nent),
                VcpuEvent.GetSregs => Unchanged(new Observation.Sregs(v.Cr4, v.ApicBase) { Cr0 = v.Cr0, Efer = v.Efer }),
                VcpuEvent.GetXcrs => Unchanged(Vm.Host.HasXsave ? new Observation.Xcrs(1, v.Xcr0) : new Observation.Xcrs(0, 0)),
                VcpuEvent.GetMsrs(var indices) when indices.Count >= MaxIoMsrs => Unchanged(E2big),
                VcpuEvent.GetMsrs(var indices) => Unchanged(GetMsrs(v, indices)),
                VcpuEvent.DisableQuirks2(var mask) => DisableQuirks2(mask),
                VcpuEvent.DisableExits(var mask) => EnableDisableExits(mask),
                VcpuEvent.Run => Done(v.HasRun ? v : v with { HasRun = true }),
                _ => throw new UnreachableException($"unhandled event {e.GetType().Name}"),
            };

        // ---- results ----

        /// <summary>The event's result: the vCPU it leaves, what it made visible, the work done.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private Transition Done(Written w, Observation? observation = null) =>
            new(ReferenceEquals(w.Vcpu, state.Vcpu) ? state : state with { Vcpu = w.Vcpu }, observation, w.Effort);

        /// <summary>The state unchanged, with an observation: a fault, an ioctl error, or a value read.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private Transition Unchanged(Observation observation) => new(state, observation, default);

        // ---- the scheme: what a trigger does and what a consumer sees ----

        /// <summary>
        /// A write at a trigger site: <paramref name="store"/> puts the new value in the vCPU together with the table,
        /// caps and marker the write leaves (<see cref="AfterWrite"/>). A write of an unchanged value that leaves those as
        /// they were returns the same vCPU.
        /// </summary>
        private Written Trigger(Vcpu v, SiteWrite write, Func<Vcpu, ulong, CpuidRuntime, Vcpu> store)
        {
            var runtime = AfterWrite(v, write, out var effort);
            return new(write.Old == write.New && runtime.IsIn(v) ? v : store(v, write.New, runtime), effort);
        }

        /// <summary>
        /// The one place the scheme acts on a write (spec §3), for <see cref="Trigger"/> and the CR4 loads
        /// (<see cref="SetCr4InMode"/>): the table, caps and marker a trigger-site write leaves, and the work done. If the
        /// rules call the write a trigger, Eager runs <c>kvm_update_cpuid_runtime</c> for the registers as the write
        /// leaves them, Lazy sets <c>cpuid_dynamic_bits_dirty</c>, and Reference stores nothing more. Computed before the
        /// vCPU is copied, so that the caller stores the write and this in one copy (<see cref="Vcpu.Runtime"/>).
        /// </summary>
        /// <remarks>
        /// Performance: the work comes back through <paramref name="effort"/>, not in a tuple with the state. Returned
        /// together they did not stay in registers: <see cref="Handle"/>'s frame grew by 48 bytes and Lazy's round trip
        /// ran 2–3 % slower (docs/benchmarks.md, round 13).
        /// </remarks>
        private CpuidRuntime AfterWrite(Vcpu v, SiteWrite write, out Effort effort)
        {
            var fires = policy.Rules.IsTrigger(Vm, e, write);
            effort = default;
            return policy.Scheme switch
            {
                UpdateScheme.Eager when fires => Updated(v, InputsAfter(v, write), out effort),
                UpdateScheme.Lazy or UpdateScheme.LazyUnfixed when fires => new(v.Cpuid, v.Caps, true),
                UpdateScheme.Eager or UpdateScheme.Lazy or UpdateScheme.LazyUnfixed or UpdateScheme.Reference => v.Runtime,
                _ => throw new UnreachableException(policy.Scheme.ToString()),
            };
        }

        /// <summary>The registers the dynamic outputs read, as a trigger-site write leaves them: which one each site writes.</summary>
        private static DynamicInputs InputsAfter(Vcpu v, SiteWrite write)
        {
            var inputs = DynamicInputs.Of(v);
            return write.Site switch
            {
                TriggerSite.SetCr4 => inputs with { Cr4 = write.New },
                TriggerSite.SetXcr or TriggerSite.SevEsSyncFromGhcb => inputs with { Xcr0 = write.New },
                TriggerSite.SetXss => inputs with { Xss = write.New },
                TriggerSite.ApicSetBase => inputs with { ApicBase = write.New },
                TriggerSite.MiscEnableMwait => inputs with { MiscEnable = write.New },
                TriggerSite.EnterSmm => inputs,
                _ => throw new UnreachableException($"unknown trigger site {write.Site}"),
            };
        }

        /// <summary>
        /// A consumer (<c>kvm_cpuid</c>, KVM_GET_CPUID2), the one place the scheme acts on an observation (spec §4):
        /// the vCPU after any pending update and the table the observation reads. Lazy clears the marker, then
        /// updates; Reference computes the outputs without storing them.
        /// </summary>
        private Observed Observe(Vcpu v)
        {
            switch (policy.Scheme)
            {
                case UpdateScheme.Eager:
                    return new(v, v.Cpuid);
                case UpdateScheme.Lazy:
                case UpdateScheme.LazyUnfixed:
                    if (!v.CpuidDynamicBitsDirty)
                    {
                        return new(v, v.Cpuid);
                    }
                    // Update clears the marker in the same copy as the new table.
                    var updated = policy.Rules.ConsumerRunsUpdate(e) ? Update(v) : (Written)(v with { CpuidDynamicBitsDirty = false });
                    return new(updated, updated.Vcpu.Cpuid);
                case UpdateScheme.Reference:
                    var m = Materialize(v, v.Cpuid);
                    return new(new Written(v, m.Effort), m.Table);
                default:
                    throw new UnreachableException(policy.Scheme.ToString());
            }
        }

        /// <summary>
        /// <c>kvm_update_cpuid_runtime</c> on the installed table; the same instance if nothing changed. 6.1's finds KVM's
        /// leaves at the base it cached from <paramref name="kvmBaseTable"/> (by default the installed table).
        /// </summary>
        private Written Update(Vcpu v, CpuidTable? kvmBaseTable = null)
        {
            var runtime = Updated(v, DynamicInputs.Of(v), out var effort, kvmBaseTable);
            return new(runtime.IsIn(v) ? v : v with { Runtime = runtime }, effort);
        }

        /// <summary>
        /// <c>kvm_update_cpuid_runtime</c> on the vCPU's installed table for these registers: the table and caps it
        /// leaves, with the marker clear, and the work that took.
        /// </summary>
        private CpuidRuntime Updated(Vcpu v, DynamicInputs inputs, out Effort effort, CpuidTable? kvmBaseTable = null)
        {
            var m = Materialize(inputs, v.Cpuid, v.Caps, kvmBaseTable ?? v.Cpuid);
            effort = m.Effort;
            return new(m.Table, m.Caps, false);
        }

        /// <summary>The dynamic outputs of <paramref name="table"/> for the vCPU's state, and the work that took.</summary>
        private (CpuidTable Table, DynamicCaps Caps, Effort Effort) Materialize(Vcpu v, CpuidTable table) =>
            Materialize(DynamicInputs.Of(v), table, v.Caps, v.Cpuid);

        /// <summary>
        /// The dynamic outputs of <paramref name="table"/> for these registers, and the work that took. On 6.1, in a VM
        /// whose HLT exits are disabled, the runtime update also clears KVM_FEATURE_PV_UNHALT at the KVM base it cached
        /// from the installed table, <paramref name="kvmBaseTable"/> (<c>__kvm_update_cpuid_runtime</c>,
        /// <see cref="KernelProfiles.ClearsPvUnhaltInRuntimeUpdate"/>).
        /// </summary>
        private (CpuidTable Table, DynamicCaps Caps, Effort Effort) Materialize(DynamicInputs inputs, CpuidTable table, DynamicCaps caps, CpuidTable kvmBaseTable)
        {
            var m = DynamicBits.Materialize(Vm, inputs, table, caps, policy.Rules);
            var updated = Vm.HltInGuest && KernelProfiles.ClearsPvUnhaltInRuntimeUpdate(Vm.Profile)
                ? PvFeatures.WithoutPvUnhalt(m.Table, PvFeatures.KvmCpuidBase(kvmBaseTable))
                : m.Table;
            return (updated, m.Caps, new Effort(1, m.XstateSizeComputations));
        }

        // ---- CR4 ----

        /// <summary>
        /// The vendor <c>set_cr4</c> hook (<c>vmx_set_cr4</c>, <c>svm_set_cr4</c>): stores CR4, a trigger site. Every
        /// CR4 load goes through it: MOV CR4, KVM_SET_SREGS, INIT, RESET, SMM entry, RSM and the nested loads.
        /// </summary>
        private Written VendorSetCr4(Vcpu v, ulong cr4) => SetCr4InMode(v, v.GuestMode, v.Nested, cr4);

        /// <summary>
        /// A nested transition's <c>enter_guest_mode</c> or <c>leave_guest_mode</c> (with what L0 keeps while L2 runs,
        /// <paramref name="nested"/>) followed by the vendor <c>set_cr4</c>, folded into one copy of the vCPU.
        /// </summary>
        private Written SetCr4InMode(Vcpu v, bool guestMode, NestedState? nested, ulong cr4)
        {
            if (v.Cr4 == cr4)
            {
                return v.GuestMode == guestMode && v.Nested == nested ? v : v with { GuestMode = guestMode, Nested = nested };
            }
            var runtime = AfterWrite(v, new SiteWrite(TriggerSite.SetCr4, v.Cr4, cr4), out var effort);
            return new(v with { Cr4 = cr4, GuestMode = guestMode, Nested = nested, Runtime = runtime }, effort);
        }

        /// <summary>
        /// <c>kvm_set_cr4</c> for a guest MOV to CR4: #GP for an invalid value (<c>kvm_is_valid_cr4</c>) or one the
        /// vCPU's mode refuses (<see cref="KvmSetCr4Allows"/>).
        /// </summary>
        private Transition KvmSetCr4(Vcpu v, ulong cr4) =>
            KvmIsValidCr4(v, cr4) && KvmSetCr4Allows(Vm.Profile, v.Cr4, cr4, v.Cr0, v.Efer) && !TurnsOnPcideWithoutGuestPcid(v, cr4)
                ? Done(VendorSetCr4(v, cr4))
                : Unchanged(Gp);

        /// <summary>6.1's <c>kvm_set_cr4</c>: CR4.PCIDE off to on needs guest PCID (<see cref="KernelProfiles.SetCr4ChecksGuestPcid"/>).</summary>
        private bool TurnsOnPcideWithoutGuestPcid(Vcpu v, ulong cr4) =>
            (cr4 & ~v.Cr4 & Cr4.Pcide) != 0 && KernelProfiles.SetCr4ChecksGuestPcid(Vm.Profile) && !GuestCpuCaps.Has(v, GuestFeature.Pcid);

        /// <summary><c>kvm_is_valid_cr4</c>: the common rule and the vendor's.</summary>
        private bool KvmIsValidCr4(Vcpu v, ulong cr4) => IsValidCr4(v, cr4) && VendorIsValidCr4(Vm, v, cr4);

        // ---- XCR0 ----

        /// <summary>
        /// <c>__kvm_set_xcr</c>: XCR index 0 only, the value checks of <see cref="Xcr0.IsValid"/> against the guest's
        /// supported XCR0; stores XCR0, a trigger site. Null if refused.
        /// </summary>
        private Written? SetXcr(Vcpu v, uint index, ulong xcr0)
        {
            if (index != 0 || !Xcr0.IsValid(xcr0, GuestCpuCaps.SupportedXcr0(v)))
            {
                return null;
            }
            return v.Xcr0 == xcr0 ? v : Trigger(v, new SiteWrite(TriggerSite.SetXcr, v.Xcr0, xcr0), StoreXcr0);
        }

        private static readonly Func<Vcpu, ulong, CpuidRuntime, Vcpu> StoreXcr0 = static (v, xcr0, runtime) => v with { Xcr0 = xcr0, Runtime = runtime };

        /// <summary><c>kvm_emulate_xsetbv</c>: #UD without CR4.OSXSAVE, #GP at CPL &gt; 0 or for a refused value.</summary>
        private Transition KvmEmulateXsetbv(Vcpu v, uint index, ulong value)
        {
            if (!v.Cr4Has(Cr4.OsXsave))
            {
                return Unchanged(Ud);
            }
            if (v.Cpl != 0)
            {
                return Unchanged(Gp);
            }
            return SetXcr(v, index, value) is { } w ? Done(w) : Unchanged(Gp);
        }

        /// <summary>
        /// KVM_SET_XCRS (<c>kvm_vcpu_ioctl_x86_set_xcrs</c>): EINVAL without host XSAVE, for a list of the wrong shape
        /// (<see cref="Xcr0.IsValidSetXcrsShape"/>) or for a refused XCR0; only the first XCR0 entry is set, and a list
        /// without one returns 0.
        /// </summary>
        private Transition SetXcrs(Vcpu v, VcpuEvent.SetXcrs set)
        {
            if (!Vm.Host.HasXsave || !Xcr0.IsValidSetXcrsShape(set.Xcrs.Count, set.Flags))
            {
                return Unchanged(Einval);
            }
            if (Xcr0.FirstSetXcrsEntry(set.Xcrs) is not { } xcr0)
            {
                return Unchanged(Ok0);
            }
            return SetXcr(v, 0, xcr0) is { } w ? Done(w, Ok0) : Unchanged(Einval);
        }

        /// <summary>
        /// <c>sev_es_sync_from_ghcb</c>: loads the CPL the GHCB gives (or 0); before 6.18 copies the GHCB's XCR0 without
        /// validation and always triggers, and ignores a GHCB XSS; 6.18 routes XCR0 through <c>__kvm_set_xcr</c> and XSS
        /// through the MSR write (refused values are ignored, only changes trigger).
        /// </summary>
        private Written SevEsSyncFromGhcb(Vcpu v, byte cpl, ulong xcr0, ulong? xss)
        {
            // The VMCB's CPL comes from the GHCB first (kvm_ghcb_get_cpl_if_valid), then XCR0 and XSS.
            v = v.Cpl == cpl ? v : v with { Cpl = cpl };
            if (!KernelProfiles.SevEsXcr0GoesThroughSetXcr(Vm.Profile))
            {
                return Trigger(v, new SiteWrite(TriggerSite.SevEsSyncFromGhcb, v.Xcr0, xcr0), StoreXcr0);
            }
            Written w = SetXcr(v, 0, xcr0) ?? v;
            // 6.18 (CET series) also takes IA32_XSS from the GHCB, as a guest write (__kvm_emulate_msr_write); a refusal is ignored.
            return xss is { } value && policy.Rules.SevEsSyncsXss(Vm) ? w.Then(SetXss(w.Vcpu, value, hostInitiated: false) ?? w.Vcpu) : w;
        }

        // ---- MSRs ----

        /// <summary>
        /// <c>kvm_set_msr_common</c> (and <c>vmx_set_msr</c> for TSX_CTRL) for the MSRs the model knows. Null if
        /// refused: the guest gets #GP, KVM_SET_MSRS and the nested MSR-load lists stop there. IA32_TSX_CTRL only where
        /// <see cref="TsxCtrlAccessible"/>.
        /// </summary>
        private Written? SetMsr(Vcpu v, uint index, ulong value, bool hostInitiated) =>
            index switch
            {
                Msr.ApicBase => KvmApicSetBase(v, value, hostInitiated),
                Msr.Efer => SetEfer(v, value, hostInitiated),
                Msr.MiscEnable => SetMiscEnable(v, value, hostInitiated),
                Msr.Xss => SetXss(v, value, hostInitiated),
                Msr.MiscFeaturesEnables => SetMiscFeaturesEnables(v, value),
                Msr.PlatformInfo => SetPlatformInfo(v, value, hostInitiated),
                Msr.TsxCtrl => !TsxCtrlAccessible(v, hostInitiated) || (value & ~Msr.TsxCtrlWritable) != 0 ? (Written?)null
                    : (Written)(v.TsxCtrl == value ? v : v with { Rare = v.Rare with { TsxCtrl = value } }),
                _ => null,
            };

        /// <summary>
        /// <c>kvm_get_msr_common</c> for the MSRs the model knows; null if the read is refused. IA32_XSS needs guest
        /// XSAVES for a guest read only; a host read (KVM_GET_MSRS) gets the value.
        /// </summary>
        private ulong? GetMsr(Vcpu v, uint index, bool hostInitiated) =>
            index switch
            {
                Msr.ApicBase => v.ApicBase,
                Msr.Efer => v.Efer,
                Msr.MiscEnable => v.MiscEnable,
                Msr.Xss => hostInitiated || GuestCpuCaps.Has(v, GuestFeature.Xsaves) ? v.Xss : null,
                Msr.MiscFeaturesEnables => v.MiscFeaturesEnables,
                Msr.TsxCtrl => TsxCtrlAccessible(v, hostInitiated) ? v.TsxCtrl : null,
                Msr.PlatformInfo => v.PlatformInfo,
                _ => null,
            };

        /// <summary>
        /// IA32_EFER through the MSR (<c>set_efer</c>, <see cref="Efer.Set"/>), then the vendor hook
        /// (<see cref="VendorSetEfer"/>). Not a trigger.
        /// </summary>
        private Written? SetEfer(Vcpu v, ulong value, bool hostInitiated) =>
            Efer.Set(v.Efer, v.Cr0, value, hostInitiated, EferKvmBits(Vm.Host, Vm.Profile), EferValidBits(Vm.Host, Vm.Profile, v.Guest.Features)) is { } efer
                ? (Written?)VendorSetEfer(v, efer)
                : null;

        /// <summary>
        /// The vendor <c>set_efer</c> hook storing EFER (the MSR and KVM_SET_SREGS): in SVM guest mode a value without
        /// SVME leaves nested mode (<see cref="SvmSetEferLeavesNested"/>: out of guest mode at once, with CR4 as it is, so
        /// no trigger). <c>vmx_set_efer</c> changes nothing the model shows.
        /// </summary>
        private static Vcpu VendorSetEfer(Vcpu v, ulong efer)
        {
            var left = SvmSetEferLeavesNested(v.GuestMode && v.Nested is NestedSvm, v.InSmm, efer) ? v with { GuestMode = false, Nested = null } : v;
            return left.Efer == efer ? left : left with { Rare = left.Rare with { Efer = efer } };
        }

        /// <summary>
        /// Whether an access of IA32_TSX_CTRL reaches it (<c>vmx_get_msr</c>, <c>vmx_set_msr</c>): the host must have it
        /// (<see cref="HasTsxCtrl"/>), and a guest access needs TSX_CTRL_MSR in the vCPU's IA32_ARCH_CAPABILITIES
        /// (<see cref="VcpuRare.ArchCapabilitiesTsxCtrl"/>). Otherwise it is #GP for the guest and KVM_SET_MSRS and
        /// KVM_GET_MSRS stop there.
        /// </summary>
        private bool TsxCtrlAccessible(Vcpu v, bool hostInitiated) =>
            HasTsxCtrl(Vm.Host) && (hostInitiated || v.Rare.ArchCapabilitiesTsxCtrl);

        /// <summary>
        /// <c>kvm_set_msr_common</c>, MSR_MISC_FEATURES_ENABLES: bit 0 (CPUID faulting) only, and only where
        /// MSR_PLATFORM_INFO says faulting is supported (<c>supports_cpuid_fault</c>); the host alike.
        /// </summary>
        private static Written? SetMiscFeaturesEnables(Vcpu v, ulong value)
        {
            if ((value & ~Msr.MiscFeaturesCpuidFault) != 0
                || ((value & Msr.MiscFeaturesCpuidFault) != 0 && (v.PlatformInfo & Msr.PlatformInfoCpuidFault) == 0))
            {
                return null;
            }
            return v.MiscFeaturesEnables == value ? v : v with { Rare = v.Rare with { MiscFeaturesEnables = value } };
        }

        /// <summary>
        /// <c>kvm_set_msr_common</c>, MSR_PLATFORM_INFO: the host's only. As a feature MSR (6.13 on) any value before the
        /// first KVM_RUN and only the value it has after (<c>do_set_msr</c>); on 6.1 any value, except that clearing
        /// faulting support while faulting is on is refused (<see cref="KernelProfiles.PlatformInfoIsFeatureMsr"/>).
        /// </summary>
        private Written? SetPlatformInfo(Vcpu v, ulong value, bool hostInitiated)
        {
            if (!PlatformInfoWriteAllowed(Vm.Profile, hostInitiated, v.HasRun, v.PlatformInfo, value, v.MiscFeaturesEnables))
            {
                return null;
            }
            return v.PlatformInfo == value ? v : v with { Rare = v.Rare with { PlatformInfo = value } };
        }

        /// <summary>
        /// <c>kvm_apic_set_base</c>: reserved bits (<see cref="Msr.ApicBaseReservedLow"/>, above MAXPHYADDR, EXTD
        /// without x2APIC) and the invalid mode (EXTD without EN) always refuse; the guest may not go x2APIC→xAPIC or
        /// disabled→x2APIC. Then <c>__kvm_apic_set_base</c>.
        /// </summary>
        private Written? KvmApicSetBase(Vcpu v, ulong value, bool hostInitiated)
        {
            var old = v.ApicBase;
            if (old == value && KernelProfiles.SkipsUnchangedApicBase(Vm.Profile))
            {
                return v;
            }
            var maxPhys = GuestCpuCaps.MaxPhysAddr(v);
            var reserved = (maxPhys >= 64 ? 0 : ~0ul << maxPhys) | Msr.ApicBaseReservedLow;
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
            return ApicSetBase(v, value);
        }

        /// <summary>
        /// <c>__kvm_apic_set_base</c>: stores IA32_APIC_BASE, a trigger site (an unchanged value changes nothing:
        /// <see cref="Trigger"/> returns the same vCPU).
        /// </summary>
        private Written ApicSetBase(Vcpu v, ulong value) =>
            Trigger(v, new SiteWrite(TriggerSite.ApicSetBase, v.ApicBase, value), static (v, apicBase, runtime) => v with { Rare = v.Rare with { ApicBase = apicBase }, Runtime = runtime });

        /// <summary>
        /// <c>kvm_set_msr_common</c>, MSR_IA32_MISC_ENABLE: the guest may not change the PMU read-only bits and its
        /// EMON writes are ignored; with the MISC_ENABLE_NO_MWAIT quirk disabled a change of bit 18 needs guest SSE3
        /// and is a trigger site.
        /// </summary>
        private Written? SetMiscEnable(Vcpu v, ulong value, bool hostInitiated)
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
            if (old == data)
            {
                return v;
            }
            if (policy.Rules.MiscEnableOwnsMwait(Vm) && ((old ^ data) & Msr.MiscEnableMwait) != 0)
            {
                return GuestCpuCaps.Has(v, GuestFeature.Sse3)
                    ? Trigger(v, new SiteWrite(TriggerSite.MiscEnableMwait, old, data), static (v, misc, runtime) => v with { Rare = v.Rare with { MiscEnable = misc }, Runtime = runtime })
                    : (Written?)null;
            }
            return v with { Rare = v.Rare with { MiscEnable = data } };
        }

        /// <summary>
        /// <c>kvm_set_msr_common</c>, MSR_IA32_XSS: guest writes need XSAVES; the value must be within the guest's
        /// supported XSS. A trigger site even when unchanged (the rules decide: 6.18 only on a change). From 6.18 the
        /// host needs guest XSAVES too (else KVM_MSR_RET_UNSUPPORTED), except that <c>kvm_do_msr_access</c> accepts a
        /// host write of 0, which does nothing, where KVM lists IA32_XSS (<see cref="KernelProfiles.AdvertisesXss"/>).
        /// </summary>
        private Written? SetXss(Vcpu v, ulong value, bool hostInitiated)
        {
            if (!GuestCpuCaps.Has(v, GuestFeature.Xsaves) && (!hostInitiated || KernelProfiles.HostXssWriteNeedsXsaves(Vm.Profile)))
            {
                return hostInitiated && value == 0 && KernelProfiles.AdvertisesXss(Vm.Profile, Vm.Host) ? v : (Written?)null;
            }
            if ((value & ~GuestCpuCaps.SupportedXss(v)) != 0)
            {
                return null;
            }
            return Trigger(v, new SiteWrite(TriggerSite.SetXss, v.Xss, value), static (v, xss, runtime) => v with { Rare = v.Rare with { Xss = xss }, Runtime = runtime });
        }

        /// <summary>KVM_GET_MSRS (<c>__msr_io</c>): host-initiated reads until the first refusal.</summary>
        private Observation GetMsrs(Vcpu v, ValueArray<uint> indices)
        {
            var read = new List<MsrEntry>();
            foreach (var index in indices)
            {
                if (GetMsr(v, index, hostInitiated: true) is not { } value)
                {
                    break;
                }
                read.Add(new MsrEntry(index, value));
            }
            return new Observation.Msrs(new([.. read]));
        }

        /// <summary>KVM_SET_MSRS (<c>__msr_io</c>): host-initiated writes until the first refusal; returns the count.</summary>
        private Transition SetMsrs(Vcpu v, ValueArray<MsrEntry> entries)
        {
            Written w = v;
            var count = 0;
            foreach (var (index, value) in entries)
            {
                if (SetMsr(w.Vcpu, index, value, hostInitiated: true) is not { } next)
                {
                    break;
                }
                w = w.Then(next);
                count++;
            }
            return Done(w, count == 0 ? Ok0 : new Observation.IoctlDone(count));
        }

        // ---- CPUID consumers ----

        /// <summary>
        /// <c>kvm_emulate_cpuid</c>: with CPUID faulting at CPL &gt; 0, #GP and no materialization; otherwise
        /// <c>kvm_cpuid</c> (materialize if dirty, then look up).
        /// </summary>
        private Transition KvmEmulateCpuid(Vcpu v, uint leaf, uint subleaf)
        {
            if (v.CpuidFaults)
            {
                return Unchanged(Gp);
            }
            var (after, view) = Observe(v);
            var a = CpuidLookup.Answer(view, leaf, subleaf, v.TsxCtrl, exactOnly: false, policy.Rules.Lookup);
            return Done(after, new Observation.CpuidResult(leaf, subleaf, a.Eax, a.Ebx, a.Ecx, a.Edx));
        }

        /// <summary><c>kvm_vcpu_ioctl_get_cpuid2</c>: E2BIG before materializing if the buffer is too small.</summary>
        private Transition GetCpuid2(Vcpu v, int nent)
        {
            if (nent < v.Cpuid.Count)
            {
                return Unchanged(E2big);
            }
            var (after, view) = Observe(v);
            return Done(after, new Observation.Cpuid2(view));
        }

        /// <summary>
        /// <c>kvm_emulate_monitor_mwait</c> after patch 4/5: NOP under MWAIT_NEVER_UD_FAULTS; otherwise #UD unless
        /// enabled, where "enabled" is the cached MWAIT capability while MISC_ENABLE_NO_MWAIT is in effect
        /// (userspace owns it) and MISC_ENABLE bit 18 once the quirk is disabled.
        /// </summary>
        private Observation KvmEmulateMonitorMwait(Vcpu v)
        {
            if (Vm.QuirkInEffect(KvmQuirks.MwaitNeverUdFaults))
            {
                return Nop;
            }
            var enabled = !policy.Rules.MiscEnableOwnsMwait(Vm) || !KernelProfiles.MwaitEnableFromMiscEnable(Vm.Profile)
                ? GuestCpuCaps.Has(v, GuestFeature.Mwait)
                : (v.MiscEnable & Msr.MiscEnableMwait) != 0;
            return enabled ? Nop : Ud;
        }

        // ---- KVM_SET_CPUID2 ----

        /// <summary>
        /// <c>kvm_set_cpuid</c>. Before the first run: <c>kvm_check_cpuid</c>, install, recompute the capability bits,
        /// and update unconditionally (<c>kvm_vcpu_after_set_cpuid</c>). After it: the incoming table is updated and
        /// must equal the installed one (<c>kvm_cpuid_check_equal</c>). The Dec-2025 fix first brings the installed
        /// table up to date if dirty; without it (LazyUnfixed) the comparison sees stale bits and, on the EINVAL, the
        /// pending update is lost because the marker was already cleared.
        /// </summary>
        private Transition KvmSetCpuid(Vcpu v, CpuidTable incoming)
        {
            if (incoming.Count > CpuidTable.MaxEntries)
            {
                return Unchanged(E2big);
            }
            if (Vm.HltInGuest && !KernelProfiles.ClearsPvUnhaltInRuntimeUpdate(Vm.Profile))
            {
                // kvm_apply_cpuid_pv_features_quirk: after installing the table, and on the incoming one before the
                // after-run comparison; clearing it first is the same.
                incoming = PvFeatures.WithoutPvUnhalt(incoming, PvFeatures.KvmCpuidBase(incoming));
            }
            Written current = v;
            if (policy.Scheme == UpdateScheme.Lazy && v.CpuidDynamicBitsDirty)
            {
                current = Update(v);
            }
            if (v.HasRun || v.GuestMode)
            {
                return KvmCpuidCheckEqual(current, incoming);
            }
            if (!IsValidCpuid(incoming))
            {
                return Done(current, Einval);
            }
            if (!GuestXfdFeaturesPermitted(Vm, incoming))
            {
                return Done(current, Eperm);
            }
            var caps = DynamicBits.CapsOf(incoming);
            var guest = GuestCpuCaps.Derive(
                incoming,
                SupportedCpuid.SupportedXcr0(Vm.Host),
                KernelProfiles.SupportedXss(Vm.Profile, Vm.Host),
                SupportedCpuid.Cr4ReservedBits(Vm.Host, Vm.Profile),
                policy.Rules.Cr4ReservedByFeatures
            );
            var c = current.Vcpu;
            var installed = c with
            {
                Cpuid = incoming,
                Caps = caps,
                Rare = c.Rare with { Guest = guest, TsxCtrl = TsxCtrlAfterSetCpuid(Vm.Host, incoming, c.TsxCtrl) },
                CpuidDynamicBitsDirty = false,
            };
            if (policy.Scheme == UpdateScheme.Reference)
            {
                return Done(current.Then(installed), Ok0);
            }
            // 6.1 updates the incoming table before installing it, with the KVM base cached from the table it replaces.
            return Done(current.Then(policy.Rules.ConsumerRunsUpdate(e) ? Update(installed, kvmBaseTable: c.Cpuid) : installed), Ok0);
        }

        /// <summary>
        /// <c>kvm_cpuid_check_equal</c> after KVM_RUN: the incoming table, updated for the current state, must equal the
        /// installed one (under Reference, the installed one as it would be observed). Updating the incoming table
        /// clears the marker whatever the outcome.
        /// </summary>
        private Transition KvmCpuidCheckEqual(Written current, CpuidTable incoming)
        {
            var c = current.Vcpu;
            var updatedIncoming = Materialize(c, incoming);
            var effort = current.Effort + updatedIncoming.Effort;
            var installedView = c.Cpuid;
            if (policy.Scheme == UpdateScheme.Reference)
            {
                var m = Materialize(c, c.Cpuid);
                effort += m.Effort;
                installedView = m.Table;
            }
            var cleared = c.CpuidDynamicBitsDirty ? c with { CpuidDynamicBitsDirty = false } : c;
            if (!updatedIncoming.Table.Equals(installedView))
            {
                return Done(new Written(cleared, effort), Einval);
            }
            if (policy.Scheme == UpdateScheme.Reference)
            {
                return Done(new Written(cleared, effort), Ok0);
            }
            var installed = cleared with { Cpuid = updatedIncoming.Table, Caps = updatedIncoming.Caps };
            return Done(new Written(installed, effort), Ok0);
        }

        // ---- quirks ----

        /// <summary>KVM_CAP_DISABLE_QUIRKS2: EINVAL for unsupported bits; the mask is OR-ed in (6.1, 6.15: assigned) and never marks dirty.</summary>
        private Transition DisableQuirks2(ulong mask)
        {
            var quirks = (KvmQuirks)mask;
            if ((quirks & ~Vm.SupportedQuirks) != 0)
            {
                return Unchanged(Einval);
            }
            var disabled = KernelProfiles.AssignsDisabledQuirks(Vm.Profile) ? quirks : Vm.DisabledQuirks | quirks;
            var next = disabled == Vm.DisabledQuirks ? state : state with { Vm = Vm with { DisabledQuirks = disabled } };
            return new(next, Ok0, default);
        }

        /// <summary>
        /// KVM_ENABLE_CAP(KVM_CAP_X86_DISABLE_EXITS) on the VM of a vCPU that exists (<see cref="DisableExits.Enable"/>):
        /// EINVAL from 6.14; 6.1 takes it, and its next runtime update clears PV_UNHALT.
        /// </summary>
        private Transition EnableDisableExits(ulong mask) =>
            DisableExits.Enable(Vm, mask, vcpuCreated: true) is { } vm
                ? new(ReferenceEquals(vm, Vm) ? state : state with { Vm = vm }, Ok0, default)
                : Unchanged(Einval);

        // ---- mode switches ----

        /// <summary>
        /// <c>enter_smm</c>: saves CR0, CR4, EFER and CPL in SMRAM, clears CR0's PE, EM, TS and PG (leaving long mode:
        /// LMA clear), clears EFER for a guest with long mode, clears CR4 through <c>set_cr4</c>, then a trigger site of its own. An SMI while already
        /// in SMM stays pending (<c>smi_allowed</c> is false there) until RSM (<see cref="EmRsm"/>).
        /// </summary>
        private Written EnterSmm(Vcpu v)
        {
            if (v.InSmm)
            {
                return v.Rare.SmiPending ? v : v with { Rare = v.Rare with { SmiPending = true } };
            }
            var smm = v.Rare with
            {
                InSmm = true,
                SmiPending = false,
                SmramCr4 = v.Cr4,
                SmramCpl = v.Cpl,
                SmramCr0 = v.Cr0,
                SmramEfer = v.Efer,
                Cr0 = Cr0.AtSmmEntry(v.Cr0),
                // Clearing CR0.PG leaves long mode (LMA) first; a guest with LM then gets EFER 0 (enter_smm).
                Efer = GuestCpuCaps.Has(v, GuestFeature.Lm) ? 0 : Efer.AfterPagingOff(v.Efer, v.Cr0),
            };
            var saved = v with { Cpl = 0, Rare = smm };
            var cleared = VendorSetCr4(saved, 0);
            // A trigger of its own, with no register written (old and new alike).
            return cleared.Then(Trigger(cleared.Vcpu, new SiteWrite(TriggerSite.EnterSmm, 0, 0), static (v, _, runtime) => v with { Runtime = runtime }));
        }

        /// <summary>
        /// RSM (<c>em_rsm</c>): restores CPL, CR0, EFER and CR4 (CR4 through <c>set_cr4</c>) from SMRAM. Leaving SMM
        /// requests event processing (<c>kvm_smm_changed</c>), which takes what arrived in SMM: a latched INIT first
        /// (<c>kvm_apic_accept_events</c>; its reset drops a pending SMI), else a pending SMI, which enters SMM again.
        /// </summary>
        private Written EmRsm(Vcpu v)
        {
            var left = VendorSetCr4(v with { Cpl = v.SmramCpl, Rare = v.Rare with { InSmm = false, Cr0 = v.Rare.SmramCr0, Efer = v.Rare.SmramEfer } }, v.SmramCr4);
            return left.Vcpu.Rare switch
            {
                { InitPending: true } => left.Then(ResetForInit(left.Vcpu)),
                { SmiPending: true } => left.Then(EnterSmm(left.Vcpu)),
                _ => left,
            };
        }

        /// <summary>
        /// <c>kvm_vcpu_reset(vcpu, true)</c>: CR0 ← ET with CD and NW kept, EFER ← 0, CR4 ← 0 and CPL 0, a pending SMI
        /// dropped; INIT is blocked in SMM and stays latched until RSM (<see cref="EmRsm"/>). (What an INIT does in
        /// guest mode, an exit to L1 or leaving nested, is not modelled here: the registers are reset in the mode the
        /// vCPU is in.)
        /// </summary>
        private Written KvmVcpuInit(Vcpu v) =>
            !v.InSmm ? ResetForInit(v)
            : v.Rare.InitPending ? v
            : v with { Rare = v.Rare with { InitPending = true } };

        private Written ResetForInit(Vcpu v) => VendorSetCr4(ResetCr0AndEfer(v.Cpl == 0 ? v : v with { Cpl = 0 }, Cr0.AfterInit(v.Cr0)), 0);

        /// <summary>
        /// A triple fault L1 does not take: on VMX <c>handle_triple_fault</c> only reports KVM_EXIT_SHUTDOWN; on SVM
        /// <c>shutdown_interception</c> INITs the vCPU (the VMCB is undefined after a shutdown), and that reset leaves SMM
        /// (6.18 through <c>kvm_smm_changed</c>; 6.1 by clearing <c>hflags</c>).
        /// </summary>
        private Transition KvmTripleFault(Vcpu v)
        {
            if (!Vm.Host.IsAmdOrHygon)
            {
                return Unchanged(Shutdown);
            }
            // kvm_vcpu_reset(vcpu, true) leaves guest mode first (kvm_leave_nested: L1's CR4 is not reloaded, the reset
            // then sets CR4 to 0 from L2's).
            var outOfSmm = v.InSmm ? v.Rare with { InSmm = false } : v.Rare;
            var left = v.GuestMode || v.Nested is not null || outOfSmm != v.Rare
                ? v with { GuestMode = false, Nested = null, Rare = outOfSmm }
                : v;
            return Done(ResetForInit(left), Shutdown);
        }

        /// <summary>
        /// The CR0 and EFER loads of <c>kvm_vcpu_reset</c> (EFER ← 0), which also drops a pending SMI; the model's
        /// latched INIT goes too (the kernel's stays latched in the APIC, but taking it again would reset to the same
        /// registers); the same vCPU if they change nothing.
        /// </summary>
        private static Vcpu ResetCr0AndEfer(Vcpu v, ulong cr0) =>
            v.Cr0 == cr0 && v.Efer == 0 && !v.Rare.SmiPending && !v.Rare.InitPending
                ? v
                : v with { Rare = v.Rare with { Cr0 = cr0, Efer = 0, SmiPending = false, InitPending = false } };

        /// <summary>
        /// <c>kvm_vcpu_reset(vcpu, false)</c>, in the kernel's order: the local APIC reset puts APIC base back to its
        /// default (<c>__kvm_apic_set_base</c>); SMM and guest mode are left; MISC_FEATURES_ENABLES and MISC_ENABLE are
        /// assigned directly; XCR0 ← x87 (<c>__kvm_set_xcr</c>) and XSS ← 0 (host-initiated write); finally the vendor
        /// reset clears CR4 through <c>set_cr4</c>. The table is kept. (KVM resets only at vCPU creation, when the
        /// table is still empty, so Eager's intermediate updates there cannot be observed.)
        /// </summary>
        private Written KvmVcpuReset(Vcpu v)
        {
            var w = ApicSetBase(v, Msr.ApicBaseDefault);
            var a = w.Vcpu;
            var rare = a.Rare with { MiscEnable = Msr.MiscEnableDefault, MiscFeaturesEnables = 0, InSmm = false, SmiPending = false, InitPending = false, Cr0 = Cr0.AtReset, Efer = 0 };
            var plain = a with { Cpl = 0, GuestMode = false, Nested = null, Rare = rare };
            w = w.Then(plain == a ? a : plain);
            w = w.Then(SetXcr(w.Vcpu, 0, Xcr0.Fp) ?? w.Vcpu);
            w = w.Then(SetXss(w.Vcpu, 0, hostInitiated: true) ?? w.Vcpu);
            return w.Then(VendorSetCr4(w.Vcpu, 0));
        }

        // ---- nested VMX ----

        /// <summary>
        /// <c>nested_vmx_enter_non_root_mode</c>: enter guest mode, keep vmcs12's CR4 mask and read shadow if L1 owns a
        /// CR4 bit, load vmcs12's GUEST_CR4 through <c>vmx_set_cr4</c> (<c>prepare_vmcs02</c>), then the VM-entry
        /// MSR-load list. A refused entry i gives <see cref="Observation.VmEntryMsrLoadFailed"/>(i + 1).
        /// </summary>
        private Transition NestedVmxEnterNonRootMode(Vcpu v, VcpuEvent.NestedVmEntry entry)
        {
            NestedVmx? vmx = entry.Cr4GuestHostMask == 0 ? null : new NestedVmx(entry.Cr4GuestHostMask, entry.Cr4ReadShadow, entry.GuestCr4);
            // Traces that mix the vendors (a VM-entry inside an SVM guest) keep the SVM state, as the mutable baseline does;
            // CR4 ownership takes its place only where L1 owns a bit.
            var w = SetCr4InMode(v, guestMode: true, vmx ?? (NestedState?)v.Svm, entry.GuestCr4);
            var (loaded, failed) = NestedVmxLoadMsr(w, entry.MsrLoad);
            return Done(loaded, failed == 0 ? null : new Observation.VmEntryMsrLoadFailed(failed));
        }

        /// <summary>
        /// <c>nested_vmx_vmexit</c> → <c>load_vmcs12_host_state</c>: leave guest mode, load vmcs12's HOST_CR4 through
        /// <c>vmx_set_cr4</c>, then the VM-exit MSR-load list; a refused entry is a VMX abort.
        /// </summary>
        private Transition NestedVmxVmexit(Vcpu v, VcpuEvent.NestedVmExit exit)
        {
            var w = SetCr4InMode(v, guestMode: false, v.Svm, exit.HostCr4);
            var (loaded, failed) = NestedVmxLoadMsr(w, exit.MsrLoad);
            return Done(loaded, failed == 0 ? null : new Observation.VmxAbort(Msr.VmxAbortLoadHostMsrFail));
        }

        /// <summary><c>nested_vmx_load_msr</c>: entries in order through the guest WRMSR rules; the 1-based index of the first refusal, or 0.</summary>
        /// <remarks>Performance: an empty list (every workload's) returns inline, without the call and its returned pair.</remarks>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private (Written Loaded, uint Failed) NestedVmxLoadMsr(Written w, ValueArray<MsrEntry> list) =>
            list.Count == 0 ? (w, 0) : NestedVmxLoadMsrEntries(w, list);

        private (Written Loaded, uint Failed) NestedVmxLoadMsrEntries(Written w, ValueArray<MsrEntry> list)
        {
            for (var i = 0; i < list.Count; i++)
            {
                var (index, value) = list[i];
                if (SetMsr(w.Vcpu, index, value, hostInitiated: false) is not { } next)
                {
                    return (w, (uint)i + 1);
                }
                w = w.Then(next);
            }
            return (w, 0);
        }

        // ---- nested SVM ----

        /// <summary>
        /// <c>nested_svm_vmrun</c>: #GP at CPL &gt; 0 (<c>nested_svm_check_permissions</c>), #UD in SMM; then, vmcb12's
        /// consistency checks having passed (the caller's), vmcb01 keeps L1's CR4 and <c>enter_svm_guest_mode</c> loads
        /// vmcb12's save.cr4 through <c>svm_set_cr4</c> (<c>nested_vmcb02_prepare_save</c>). In L2, VMRUN is L1's (a
        /// mandatory vmcb12 intercept).
        /// </summary>
        private Transition NestedSvmVmrun(Vcpu v, VcpuEvent.NestedSvmVmrun run)
        {
            if (v.GuestMode)
            {
                return Unchanged(SvmVmrunExitsToL1);
            }
            if (v.Cpl != 0)
            {
                return Unchanged(Gp);
            }
            if (v.InSmm)
            {
                return Unchanged(Ud);
            }
            return Done(SetCr4InMode(v, guestMode: true, new NestedSvm(run.Intercepts, v.Cr4), run.SaveCr4));
        }

        /// <summary>
        /// <c>nested_svm_vmexit</c>: leave guest mode and restore L1's CR4 from vmcb01 through <c>svm_set_cr4</c>.
        /// Nothing to do outside SVM guest mode.
        /// </summary>
        private Transition NestedSvmVmexit(Vcpu v) =>
            v.GuestMode && v.Svm is { } svm ? Done(SetCr4InMode(v, guestMode: false, nested: null, svm.Vmcb01Cr4)) : Done(v);

        // ---- KVM_SET_SREGS ----

        /// <summary>
        /// KVM_SET_SREGS (<c>__set_sregs_common</c>): EINVAL, with nothing changed, for an invalid CR4, CR0 or EFER
        /// (<c>kvm_is_valid_sregs</c>) or a refused APIC base (host-initiated: transitions are free, reserved bits and
        /// the invalid mode are not); then the APIC base, EFER and CR0, then CR4 through <c>set_cr4</c>.
        /// </summary>
        private Transition SetSregs(Vcpu v, ulong cr0, ulong cr4, ulong efer, ulong apicBase)
        {
            if (!KvmIsValidCr4(v, cr4) || !Cr0.IsValid(cr0) || !Efer.IsValidWith(efer, cr0, cr4))
            {
                return Unchanged(Einval);
            }
            if (KvmApicSetBase(v, apicBase, hostInitiated: true) is not { } withApic)
            {
                return Unchanged(Einval);
            }
            var a = VendorSetEfer(withApic.Vcpu, efer);
            var withCr0 = a.Cr0 == cr0 ? a : a with { Rare = a.Rare with { Cr0 = cr0 } };
            return Done(withApic.Then(VendorSetCr4(withCr0, cr4)), Ok0);
        }
    }

    /// <summary>A vCPU a handler leaves and the runtime updates it ran to get there (Eager runs them at each trigger).</summary>
    private readonly record struct Written(Vcpu Vcpu, Effort Effort)
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static implicit operator Written(Vcpu vcpu) => new(vcpu, default);

        /// <summary>This write followed by the next one, made on this one's vCPU: the next vCPU, both efforts.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Written Then(Written next) => new(next.Vcpu, Effort + next.Effort);
    }

    /// <summary>What a consumer sees: the vCPU after any pending update, and the table the observation reads.</summary>
    private readonly record struct Observed(Written After, CpuidTable View);
}
