using CpuidFunctional.Core;
using CpuidFunctional.Core.Dynamic;

namespace CpuidFunctional.Bench.Mutable;

/// <summary>
/// The mutable baseline of Core's rules, written the way KVM's C is: one mutable vCPU object (<c>struct
/// kvm_vcpu_arch</c>), the CPUID table as an array rewritten in place by <see cref="UpdateCpuidRuntime"/>, a dirty
/// bool, and the static guest capabilities cached when the table is installed (KVM's <c>cpu_caps</c>). It models the
/// same rules as <see cref="Kvm.Step"/> for the events a nested round trip produces (CR4, XCR0, the MSRs Core knows,
/// CPUID, KVM_GET_CPUID2, the nested CR4 loads and MSR-load lists, KVM_SET_SREGS, INIT, CPL changes, KVM_RUN); the
/// equivalence tests hold it to Core's observations. It is the "physical limit" the functional core is measured against,
/// so its rules are a second implementation of Core's on purpose; the vocabulary (bit positions, MSR and CR4 constants,
/// the CPUID lookup rules in <see cref="MutableCpuidLookup"/>) is Core's.
/// </summary>
internal sealed partial class MutableKvm
{
    // ---- VM (fixed at creation; quirks OR-ed in, or assigned where the profile assigns them) ----
    private readonly XsaveLayout xsave;
    private readonly KernelProfile profile;
    private readonly ulong hostSupportedXcr0;
    private readonly ulong hostSupportedXss;
    private readonly bool advertisesXss;
    private readonly bool hostHasXsave;
    private readonly KvmQuirks supportedQuirks;
    private KvmQuirks disabledQuirks; // changes only through DisableQuirks2

    // ---- the static guest capabilities, recomputed whenever a table is installed (kvm_vcpu_after_set_cpuid) ----
    private ulong cr4ReservedByFeatures;
    private ulong guestSupportedXcr0;
    private ulong guestSupportedXss;
    private bool guestXsaves;
    private bool guestSse3;
    private bool guestX2Apic;
    private int guestMaxPhysAddr;
    private bool guestXgetbv1;
    private bool guestSvm;
    private ulong guestFeatures;
    private bool guestNrips;

    // kvm_intel's vendor code handles IA32_TSX_CTRL; kvm_amd's does not.
    private readonly bool vmxVendor;

    // Kvm.HasTsxCtrl of the host, and whether the vCPU's IA32_ARCH_CAPABILITIES advertises TSX_CTRL (a guest access needs it).
    private readonly bool hostTsxCtrl;
    private readonly bool archCapabilitiesTsxCtrl;
    private readonly HostCpu host;

    /// <summary>The width the nested host-state bases are canonical against (a host fact: <c>Nested.HostBaseAddressBits</c>).</summary>
    public int HostBaseAddressBits { get; }

    /// <summary>Whether the host's vendor module is kvm_intel (VMX), not kvm_amd.</summary>
    public bool VmxVendor => vmxVendor;

    // KVM's cr4_reserved_bits, whatever the guest's CPUID (a host fact, computed by Core).
    private readonly ulong hostReservedCr4;

    /// <summary>Creates a vCPU (RESET values, empty table, dirty under Lazy) and installs <paramref name="table"/> with KVM_SET_CPUID2.</summary>
    public MutableKvm(Vm vm, MutableMode mode, CpuidTable table)
    {
        if (vm.DisabledExits != 0)
        {
            // The workloads never disable exits; the baseline does not model KVM_FEATURE_PV_UNHALT's clearing.
            throw new ArgumentException("the mutable baseline models no KVM_CAP_X86_DISABLE_EXITS (a VM with exits disabled)", nameof(vm));
        }
        xsave = vm.Host.Xsave;
        profile = vm.Profile;
        hostSupportedXcr0 = SupportedCpuid.SupportedXcr0(vm.Host);
        hostSupportedXss = KernelProfiles.SupportedXss(vm.Profile, vm.Host);
        advertisesXss = KernelProfiles.AdvertisesXss(vm.Profile, vm.Host);
        hostHasXsave = vm.Host.HasXsave;
        hostHasNrips = GuestFeature.Nrips.In(vm.Host.Cpuid);
        vmxVendor = !vm.Host.IsAmdOrHygon;
        hostTsxCtrl = Kvm.HasTsxCtrl(vm.Host);
        archCapabilitiesTsxCtrl = vm.TsxCtrlInArchCapabilitiesAtCreation;
        host = vm.Host;
        hostReservedCr4 = SupportedCpuid.Cr4ReservedBits(vm.Host, vm.Profile);
        HostBaseAddressBits = Interpreter.Execution.Nested.HostBaseAddressBits(vm);
        supportedQuirks = vm.SupportedQuirks;
        PlatformInfo = vm.PlatformInfoAtCreation;
        disabledQuirks = vm.DisabledQuirks;
        Mode = mode;
        Dirty = mode == MutableMode.Lazy;
        if (!Kvm.GuestXfdFeaturesPermitted(vm, table))
        {
            throw new ArgumentException("kvm_check_cpuid refuses this table (AMX tile data the process may not give: EPERM)", nameof(table));
        }
        Install(table);
    }

    /// <summary>The update scheme.</summary>
    public MutableMode Mode { get; }

    /// <summary>The kernel profile the VM was created with.</summary>
    public KernelProfile Profile => profile;

    // ---- vCPU registers: each is assigned in place by the rule that owns it, as in struct kvm_vcpu_arch ----

    /// <summary>CR4 of the running level.</summary>
    public ulong Cr4 { get; private set; }

    /// <summary>CR0 as KVM_SET_SREGS and INIT left it (the machine keeps the one MOV to CR0 writes).</summary>
    public ulong Cr0 { get; private set; } = Core.State.Cr0.AtReset;

    /// <summary>IA32_EFER as KVM_SET_SREGS, the MSR (guest WRMSR, the nested MSR-load lists) and INIT left it.</summary>
    public ulong Efer { get; private set; }

    /// <summary>XCR0.</summary>
    public ulong Xcr0 { get; private set; } = 1;

    /// <summary>IA32_XSS.</summary>
    public ulong Xss { get; private set; }

    /// <summary>IA32_APIC_BASE.</summary>
    public ulong ApicBase { get; private set; } = Msr.ApicBaseDefault;

    /// <summary>IA32_MISC_ENABLE.</summary>
    public ulong MiscEnable { get; private set; } = Msr.MiscEnableDefault;

    /// <summary>MSR_MISC_FEATURES_ENABLES.</summary>
    public ulong MiscFeaturesEnables { get; private set; }

    /// <summary>
    /// MSR_PLATFORM_INFO: CPUID faulting supported (bit 31) unless the STUFF_FEATURE_MSRS quirk was off at creation.
    /// Only the host may write it, through KVM_SET_MSRS (Core's <c>Kvm.PlatformInfoWriteAllowed</c>).
    /// </summary>
    public ulong PlatformInfo { get; private set; }

    /// <summary>IA32_TSX_CTRL.</summary>
    public ulong TsxCtrl { get; private set; }

    /// <summary>CPL.</summary>
    public byte Cpl { get; private set; }

    /// <summary>KVM_RUN has happened.</summary>
    public bool HasRun { get; private set; }

    /// <summary>L2 runs.</summary>
    public bool GuestMode { get; private set; }

    /// <summary><c>cpuid_dynamic_bits_dirty</c>.</summary>
    public bool Dirty { get; private set; }

    /// <summary>The dynamic bits of <c>cpu_caps</c>.</summary>
    public DynamicCaps Caps { get; private set; }

    /// <summary><c>vcpu->arch.cpuid_entries</c>: rewritten in place.</summary>
    public CpuidEntry[] Table { get; private set; } = [];

    /// <summary>Runs of <c>kvm_update_cpuid_runtime</c> so far.</summary>
    public long RuntimeUpdates { get; private set; }

    /// <summary>Calls of <c>xstate_required_size</c> so far.</summary>
    public long XstateSizeComputations { get; private set; }

    /// <summary>How many events (the calls that correspond to a Core event) were applied.</summary>
    public long Events { get; set; }

    private bool QuirkInEffect(KvmQuirks quirk) => (disabledQuirks & quirk) == 0;

    /// <summary>Whether KVM_X86_QUIRK_FIX_HYPERCALL_INSN is in effect (<c>kvm_fix_hypercall</c> rewrites a #UD hypercall).</summary>
    public bool FixHypercallQuirk => QuirkInEffect(KvmQuirks.FixHypercallInsn);

    // ---- kvm_update_cpuid_runtime, in place ----

    /// <summary><c>kvm_update_cpuid_runtime</c>: clears the flag first, then rewrites the six outputs in the installed array.</summary>
    public void UpdateCpuidRuntime()
    {
        var table = Table;
        Dirty = false;
        RuntimeUpdates++;
        var caps = Caps;
        var leaf1 = MutableCpuidLookup.IndexOfFunction(table, 1);
        if (leaf1 >= 0)
        {
            ref var e = ref table[leaf1];
            var osxsave = (Cr4 & Core.State.Cr4.OsXsave) != 0;
            var apic = (ApicBase & Msr.ApicBaseEnable) != 0;
            e = e with { Ecx = SetBit(e.Ecx, DynamicBits.OsXsaveBit, osxsave), Edx = SetBit(e.Edx, DynamicBits.ApicBit, apic) };
            caps = SetCap(SetCap(caps, DynamicCaps.OsXsave, osxsave), DynamicCaps.Apic, apic);
        }
        var leaf7 = MutableCpuidLookup.IndexOf(table, 7, 0);
        if (leaf7 >= 0)
        {
            ref var e = ref table[leaf7];
            var ospke = (Cr4 & Core.State.Cr4.Pke) != 0;
            e = e with { Ecx = SetBit(e.Ecx, DynamicBits.OsPkeBit, ospke) };
            caps = SetCap(caps, DynamicCaps.OsPke, ospke);
        }
        var d0 = MutableCpuidLookup.IndexOf(table, 0xD, 0);
        if (d0 >= 0)
        {
            XstateSizeComputations++;
            table[d0] = table[d0] with { Ebx = xsave.RequiredSize(Xcr0, compacted: false) };
        }
        var d1 = MutableCpuidLookup.IndexOf(table, 0xD, 1);
        if (d1 >= 0 && (table[d1].Eax & 0xA) != 0) // XSAVES (bit 3) or XSAVEC (bit 1)
        {
            XstateSizeComputations++;
            var requested = profile >= KernelProfile.Linux6_18 ? Xcr0 | Xss : Xcr0;
            table[d1] = table[d1] with { Ebx = xsave.RequiredSize(requested, compacted: true) };
        }
        if (!QuirkInEffect(KvmQuirks.MiscEnableNoMwait) && leaf1 >= 0)
        {
            var mwait = (MiscEnable & Msr.MiscEnableMwait) != 0;
            table[leaf1] = table[leaf1] with { Ecx = SetBit(table[leaf1].Ecx, DynamicBits.MwaitBit, mwait) };
            caps = SetCap(caps, DynamicCaps.Mwait, mwait);
        }
        Caps = caps;
    }

    private static uint SetBit(uint value, int bit, bool set) => set ? value | (1u << bit) : value & ~(1u << bit);

    private static DynamicCaps SetCap(DynamicCaps caps, DynamicCaps bit, bool set) => set ? caps | bit : caps & ~bit;

    /// <summary>A trigger: Eager updates now, Lazy marks the table dirty.</summary>
    private void Trigger()
    {
        if (Mode == MutableMode.Eager)
        {
            UpdateCpuidRuntime();
        }
        else
        {
            Dirty = true;
        }
    }

    /// <summary>A consumer's dirty check (<c>kvm_cpuid</c>, KVM_GET_CPUID2).</summary>
    private void BeforeObservation()
    {
        if (Dirty)
        {
            UpdateCpuidRuntime();
        }
    }

    // ---- KVM_SET_CPUID2 before the first run ----

    private void Install(CpuidTable table)
    {
        var vaddr = table.IndexOfFunction(0x8000_0008) is var v and >= 0 ? (table[v].Eax >> 8) & 0xFF : 0;
        if (vaddr is not (0 or 48 or 57))
        {
            throw new ArgumentException("kvm_check_cpuid refuses this table (virtual-address width)", nameof(table));
        }
        if (Dirty)
        {
            UpdateCpuidRuntime(); // kvm_set_cpuid with fix I: bring the (empty) installed table up to date first
        }
        Table = [.. table.Entries];
        Caps = CapsOf(Table);
        TsxCtrl = Kvm.TsxCtrlAfterSetCpuid(host, table, TsxCtrl); // vmx_vcpu_after_set_cpuid
        CacheStaticCaps();
        Dirty = false;
        UpdateCpuidRuntime();
    }

    private static DynamicCaps CapsOf(CpuidEntry[] t)
    {
        var caps = DynamicCaps.None;
        var l1 = MutableCpuidLookup.IndexOf(t, 1, 0);
        if (l1 >= 0)
        {
            caps |= t[l1].Has(CpuidRegister.Ecx, DynamicBits.OsXsaveBit) ? DynamicCaps.OsXsave : 0;
            caps |= t[l1].Has(CpuidRegister.Edx, DynamicBits.ApicBit) ? DynamicCaps.Apic : 0;
            caps |= t[l1].Has(CpuidRegister.Ecx, DynamicBits.MwaitBit) ? DynamicCaps.Mwait : 0;
        }
        var l7 = MutableCpuidLookup.IndexOf(t, 7, 0);
        if (l7 >= 0 && t[l7].Has(CpuidRegister.Ecx, DynamicBits.OsPkeBit))
        {
            caps |= DynamicCaps.OsPke;
        }
        return caps;
    }

    private bool Static(uint leaf, CpuidRegister register, int bit)
    {
        var i = MutableCpuidLookup.IndexOf(Table, leaf, leaf == 0xD ? 1u : 0u);
        return i >= 0 && Table[i].Has(register, bit);
    }

    private bool Static(GuestFeature feature) => Static(feature.Leaf, feature.Register, feature.Bit);

    /// <summary>The static features the rules consult, cached like KVM's <c>cpu_caps</c> (none of them is ever rewritten).</summary>
    private void CacheStaticCaps()
    {
        var reserved = 0ul;
        reserved |= Static(1, CpuidRegister.Ecx, 26) ? 0 : Core.State.Cr4.OsXsave;
        reserved |= Static(7, CpuidRegister.Ecx, 3) ? 0 : Core.State.Cr4.Pke;
        reserved |= Static(1, CpuidRegister.Ecx, 5) ? 0 : Core.State.Cr4.Vmxe;
        reserved |= Static(7, CpuidRegister.Ebx, 7) ? 0 : Core.State.Cr4.Smep;
        reserved |= Static(7, CpuidRegister.Ebx, 20) ? 0 : Core.State.Cr4.Smap;
        reserved |= Static(7, CpuidRegister.Ebx, 0) ? 0 : Core.State.Cr4.FsGsBase;
        reserved |= Static(1, CpuidRegister.Ecx, 17) ? 0 : Core.State.Cr4.Pcide;
        reserved |= Static(7, CpuidRegister.Ecx, 16) ? 0 : Core.State.Cr4.La57;
        reserved |= Static(7, CpuidRegister.Ecx, 2) ? 0 : Core.State.Cr4.Umip;
        reserved |= Static(7, CpuidRegister.Ecx, 31) ? 0 : Core.State.Cr4.Pks;
        reserved |= Static(7, CpuidRegister.Ecx, 7) || Static(7, CpuidRegister.Edx, 20) ? 0 : Core.State.Cr4.Cet;
        reserved |= 1ul << 28;
        cr4ReservedByFeatures = reserved | hostReservedCr4;
        var d0 = MutableCpuidLookup.IndexOf(Table, 0xD, 0);
        guestSupportedXcr0 = d0 >= 0 ? (Table[d0].Eax | ((ulong)Table[d0].Edx << 32)) & hostSupportedXcr0 : 0;
        var d1 = MutableCpuidLookup.IndexOf(Table, 0xD, 1);
        guestSupportedXss = d1 >= 0 ? (Table[d1].Ecx | ((ulong)Table[d1].Edx << 32)) & hostSupportedXss : 0;
        guestXsaves = Static(0xD, CpuidRegister.Eax, 3);
        guestSse3 = Static(1, CpuidRegister.Ecx, 0);
        guestX2Apic = Static(1, CpuidRegister.Ecx, 21);
        guestXgetbv1 = Static(0xD, CpuidRegister.Eax, 2);
        guestSvm = Static(GuestFeature.Svm);
        guestFeatures = GuestFeature.All.Where(Static).Aggregate(0ul, (mask, f) => mask | f.Mask);
        guestNrips = Static(GuestFeature.Nrips);
        var ext = MutableCpuidLookup.IndexOfFunction(Table, 0x8000_0000);
        var leaf = MutableCpuidLookup.IndexOfFunction(Table, 0x8000_0008);
        guestMaxPhysAddr = ext < 0 || Table[ext].Eax < 0x8000_0008 || leaf < 0 ? 36 : (int)(Table[leaf].Eax & 0xFF);
    }

    /// <summary>The guest's physical-address width (<c>cpuid_maxphyaddr</c>).</summary>
    public int MaxPhysAddr => guestMaxPhysAddr;

    /// <summary>The EFER bits the guest may set (Core's <c>Kvm.EferValidBits</c> from the cached guest features), SVME only <paramref name="withSvme"/>.</summary>
    public ulong AllowedEfer(bool withSvme) =>
        Kvm.EferValidBits(host, profile, guestFeatures) & (withSvme ? ulong.MaxValue : ~CpuidFunctional.Core.State.Efer.Svme);

    /// <summary>The EFER bits KVM leaves free on the host (Core's <c>Kvm.EferKvmBits</c>).</summary>
    public ulong EferKvmBits => Kvm.EferKvmBits(host, profile);

    /// <summary>Whether the guest has XGETBV1 (CPUID.0xD.1:EAX[2]).</summary>
    public bool HasXgetbv1 => guestXgetbv1;

    // ---- CR4 ----

    /// <summary><c>vmx_set_cr4</c>: store, trigger iff OSXSAVE or PKE flipped.</summary>
    public void VendorSetCr4(ulong cr4)
    {
        var old = Cr4;
        if (old == cr4)
        {
            return;
        }
        Cr4 = cr4;
        if (((old ^ cr4) & Core.State.Cr4.DynamicBits) != 0)
        {
            Trigger();
        }
    }

    /// <summary><c>kvm_is_valid_cr4</c>.</summary>
    public bool IsValidCr4(ulong cr4) => (cr4 & ~Core.State.Cr4.Architectural) == 0 && (cr4 & cr4ReservedByFeatures) == 0;

    /// <summary>
    /// <c>kvm_set_cr4</c>'s checks against the vCPU's mode: in long mode PAE stays and LA57 does not change, PCIDE
    /// turns on only in long mode, and from 6.18 CET needs CR0.WP.
    /// </summary>
    private bool SetCr4ModeAllows(ulong cr4)
    {
        var longMode = (Efer & Core.State.Efer.Lma) != 0;
        var keepsLongModeBits = !longMode || ((cr4 & Core.State.Cr4.Pae) != 0 && ((cr4 ^ Cr4) & Core.State.Cr4.La57) == 0);
        var pcideAllowed = longMode || (cr4 & ~Cr4 & Core.State.Cr4.Pcide) == 0;
        return keepsLongModeBits && pcideAllowed && !CetWithoutWp(Cr0, cr4);
    }

    /// <summary>From 6.18 CR4.CET and a clear CR0.WP refuse each other (<c>kvm_set_cr4</c>, <c>kvm_set_cr0</c>).</summary>
    public bool CetWithoutWp(ulong cr0, ulong cr4) =>
        KernelProfiles.CetNeedsWp(profile) && (cr4 & Core.State.Cr4.Cet) != 0 && (cr0 & Core.State.Cr0.Wp) == 0;

    /// <summary>
    /// Guest MOV to CR4: false for #GP (CPL &gt; 0, <c>kvm_is_valid_cr4</c> refuses, or the mode does).
    /// </summary>
    public bool MovToCr4(ulong cr4)
    {
        Events++;
        if (Cpl != 0 || !IsValidCr4(cr4) || !SetCr4ModeAllows(cr4))
        {
            return false;
        }
        VendorSetCr4(cr4);
        return true;
    }

    // ---- XCR0 ----

    /// <summary><c>__kvm_set_xcr</c>: false if refused.</summary>
    private bool SetXcr(uint index, ulong xcr0)
    {
        if (index != 0 || !CpuidFunctional.Core.State.Xcr0.IsValid(xcr0, guestSupportedXcr0))
        {
            return false;
        }
        var old = Xcr0;
        Xcr0 = xcr0;
        if (((old ^ xcr0) & CpuidFunctional.Core.State.Xcr0.MaskExtend) != 0)
        {
            Trigger();
        }
        return true;
    }

    /// <summary>Guest XSETBV (<c>kvm_emulate_xsetbv</c>): 0 on success, else the vector to inject.</summary>
    public X86Exception? Xsetbv(uint index, ulong value)
    {
        Events++;
        if ((Cr4 & Core.State.Cr4.OsXsave) == 0)
        {
            return X86Exception.UD;
        }
        return Cpl != 0 || !SetXcr(index, value) ? X86Exception.GP : null;
    }

    // ---- MSRs ----

    /// <summary><c>kvm_set_msr_common</c> for the MSRs Core knows: false if refused.</summary>
    public bool SetMsr(uint index, ulong value, bool hostInitiated)
    {
        switch (index)
        {
            case Msr.ApicBase:
                return ApicSetBase(value, hostInitiated);
            case Msr.MiscEnable:
                return SetMiscEnable(value, hostInitiated);
            case Msr.Efer:
                // set_efer: Core's rule (Efer.Set) decides; not a trigger.
                if (Core.State.Efer.Set(Efer, Cr0, value, hostInitiated, EferKvmBits, AllowedEfer(withSvme: true)) is not { } efer)
                {
                    return false;
                }
                VendorSetEfer(efer);
                return true;
            case Msr.Xss:
                if (!guestXsaves && (!hostInitiated || KernelProfiles.HostXssWriteNeedsXsaves(profile)))
                {
                    return hostInitiated && value == 0 && advertisesXss; // kvm_do_msr_access: only where KVM lists IA32_XSS
                }
                if ((value & ~guestSupportedXss) != 0)
                {
                    return false;
                }
                var changed = Xss != value;
                Xss = value;
                if (changed || profile < KernelProfile.Linux6_18)
                {
                    Trigger();
                }
                return true;
            case Msr.MiscFeaturesEnables:
                if ((value & ~Msr.MiscFeaturesCpuidFault) != 0
                    || ((value & Msr.MiscFeaturesCpuidFault) != 0 && (PlatformInfo & Msr.PlatformInfoCpuidFault) == 0))
                {
                    return false;
                }
                MiscFeaturesEnables = value;
                return true;
            case Msr.PlatformInfo:
                if (!Kvm.PlatformInfoWriteAllowed(profile, hostInitiated, HasRun, PlatformInfo, value, MiscFeaturesEnables))
                {
                    return false;
                }
                PlatformInfo = value;
                return true;
            case Msr.TsxCtrl:
                if (!hostTsxCtrl || (!hostInitiated && !archCapabilitiesTsxCtrl) || (value & ~Msr.TsxCtrlWritable) != 0)
                {
                    return false;
                }
                TsxCtrl = value;
                return true;
            default:
                return false;
        }
    }

    /// <summary>Guest WRMSR: false for #GP (CPL &gt; 0, or refused).</summary>
    public bool Wrmsr(uint index, ulong value)
    {
        Events++;
        return Cpl == 0 && SetMsr(index, value, hostInitiated: false);
    }

    /// <summary>Guest RDMSR (<c>kvm_get_msr_common</c>): false for #GP.</summary>
    public bool Rdmsr(uint index, out ulong value)
    {
        Events++;
        if (Cpl != 0)
        {
            value = 0;
            return false;
        }
        return GetMsr(index, hostInitiated: false, out value);
    }

    /// <summary>
    /// <c>kvm_get_msr_common</c> for the MSRs Core knows: false if refused. IA32_XSS needs guest XSAVES for a guest read
    /// only; IA32_TSX_CTRL needs the host's, and for a guest read TSX_CTRL_MSR in IA32_ARCH_CAPABILITIES.
    /// </summary>
    public bool GetMsr(uint index, bool hostInitiated, out ulong value)
    {
        (var ok, value) = index switch
        {
            Msr.ApicBase => (true, ApicBase),
            Msr.MiscEnable => (true, MiscEnable),
            Msr.Efer => (true, Efer),
            Msr.Xss => (hostInitiated || guestXsaves, Xss),
            Msr.MiscFeaturesEnables => (true, MiscFeaturesEnables),
            Msr.TsxCtrl => (hostTsxCtrl && (hostInitiated || archCapabilitiesTsxCtrl), TsxCtrl),
            Msr.PlatformInfo => (true, PlatformInfo),
            _ => (false, 0ul),
        };
        return ok;
    }

    /// <summary>KVM_SET_MSRS (<c>__msr_io</c>): host-initiated writes until the first refusal; how many were written, or null for E2BIG.</summary>
    public int? SetMsrs(ReadOnlySpan<MsrEntry> entries)
    {
        Events++;
        if (entries.Length >= Kvm.MaxIoMsrs)
        {
            return null;
        }
        var written = 0;
        while (written < entries.Length && SetMsr(entries[written].Index, entries[written].Value, hostInitiated: true))
        {
            written++;
        }
        return written;
    }

    /// <summary>KVM_GET_MSRS: host reads until the first refusal; what was read, or null for E2BIG.</summary>
    public MsrEntry[]? GetMsrs(ReadOnlySpan<uint> indices)
    {
        Events++;
        if (indices.Length >= Kvm.MaxIoMsrs)
        {
            return null;
        }
        var read = new List<MsrEntry>();
        foreach (var index in indices)
        {
            if (!GetMsr(index, hostInitiated: true, out var value))
            {
                break;
            }
            read.Add(new MsrEntry(index, value));
        }
        return [.. read];
    }

    private static int ApicMode(ulong apicBase) => (int)((apicBase >> 10) & 3); // 0 disabled, 1 invalid, 2 xAPIC, 3 x2APIC

    /// <summary><c>kvm_apic_set_base</c> then <c>__kvm_apic_set_base</c>.</summary>
    private bool ApicSetBase(ulong value, bool hostInitiated)
    {
        var old = ApicBase;
        if (old == value)
        {
            return true;
        }
        var reserved = (guestMaxPhysAddr >= 64 ? 0 : ~0ul << guestMaxPhysAddr) | Msr.ApicBaseReservedLow | (guestX2Apic ? 0 : Msr.ApicBaseExtd);
        var newMode = ApicMode(value);
        if ((value & reserved) != 0 || newMode == 1)
        {
            return false;
        }
        var oldMode = ApicMode(old);
        if (!hostInitiated && ((oldMode == 3 && newMode == 2) || (oldMode == 0 && newMode == 3)))
        {
            return false;
        }
        ApicBase = value;
        if (((old ^ value) & Msr.ApicBaseEnable) != 0)
        {
            Trigger();
        }
        return true;
    }

    private bool SetMiscEnable(ulong value, bool hostInitiated)
    {
        var old = MiscEnable;
        var data = value;
        if (!hostInitiated)
        {
            if (((old ^ data) & Msr.MiscEnablePmuReadOnly) != 0)
            {
                return false;
            }
            data = (data & ~Msr.MiscEnableEmon) | (old & Msr.MiscEnableEmon);
        }
        if (!QuirkInEffect(KvmQuirks.MiscEnableNoMwait) && ((old ^ data) & Msr.MiscEnableMwait) != 0)
        {
            if (!guestSse3)
            {
                return false;
            }
            MiscEnable = data;
            Trigger();
            return true;
        }
        MiscEnable = data;
        return true;
    }

    // ---- consumers ----

    /// <summary><c>kvm_emulate_cpuid</c>: false for #GP (CPUID faulting at CPL &gt; 0, no materialization).</summary>
    public bool EmulateCpuid(uint leaf, uint subleaf, out uint eax, out uint ebx, out uint ecx, out uint edx)
    {
        Events++;
        if ((MiscFeaturesEnables & Msr.MiscFeaturesCpuidFault) != 0 && Cpl > 0)
        {
            eax = ebx = ecx = edx = 0;
            return false;
        }
        BeforeObservation();
        MutableCpuidLookup.Answer(Table, leaf, subleaf, TsxCtrl, out eax, out ebx, out ecx, out edx);
        return true;
    }

    /// <summary>KVM_GET_CPUID2: null for E2BIG (before materializing), else a copy of the table.</summary>
    public CpuidEntry[]? GetCpuid2(int nent)
    {
        Events++;
        if (nent < Table.Length)
        {
            return null;
        }
        BeforeObservation();
        return [.. Table];
    }

    // ---- nested VMX ----

    /// <summary>
    /// Nested VM-entry: GUEST_CR4 through <c>vmx_set_cr4</c>, then the MSR-load list (guest rules). Returns 0, or the
    /// 1-based number of the refused entry.
    /// </summary>
    public uint NestedVmEntry(ulong guestCr4, ReadOnlySpan<MsrEntry> msrLoad)
    {
        Events++;
        GuestMode = true;
        VendorSetCr4(guestCr4);
        return LoadMsrList(msrLoad);
    }

    /// <summary>Nested VM-exit: HOST_CR4 through <c>vmx_set_cr4</c>, then the MSR-load list; false for a VMX abort.</summary>
    public bool NestedVmExit(ulong hostCr4, ReadOnlySpan<MsrEntry> msrLoad)
    {
        Events++;
        GuestMode = false;
        VendorSetCr4(hostCr4);
        return LoadMsrList(msrLoad) == 0;
    }

    private uint LoadMsrList(ReadOnlySpan<MsrEntry> list)
    {
        for (var i = 0; i < list.Length; i++)
        {
            if (!SetMsr(list[i].Index, list[i].Value, hostInitiated: false))
            {
                return (uint)i + 1;
            }
        }
        return 0;
    }

    // ---- userspace and mode switches ----

    /// <summary>KVM_SET_SREGS: false for EINVAL (<c>kvm_is_valid_sregs</c>, then the APIC base).</summary>
    public bool SetSregs(ulong cr4, ulong apicBase, ulong cr0, ulong efer)
    {
        Events++;
        if (!IsValidCr4(cr4) || !Core.State.Cr0.IsValid(cr0) || !Core.State.Efer.IsValidWith(efer, cr0, cr4) || !ApicSetBase(apicBase, hostInitiated: true))
        {
            return false;
        }
        Cr0 = cr0;
        VendorSetEfer(efer);
        VendorSetCr4(cr4);
        return true;
    }

    /// <summary>The vendor <c>set_efer</c> hook: stores EFER; in SVM guest mode a value without SVME leaves nested mode (Core's <c>Kvm.SvmSetEferLeavesNested</c>; no SMM here).</summary>
    private void VendorSetEfer(ulong efer)
    {
        Efer = efer;
        if (Kvm.SvmSetEferLeavesNested(SvmGuest, inSmm: false, efer))
        {
            LeaveSvmNested();
        }
    }

    /// <summary>KVM_SET_XCRS: false for EINVAL; a list without an XCR0 entry sets nothing and succeeds.</summary>
    public bool SetXcrs(ValueArray<XcrEntry> xcrs, uint flags)
    {
        Events++;
        if (!hostHasXsave || !CpuidFunctional.Core.State.Xcr0.IsValidSetXcrsShape(xcrs.Count, flags))
        {
            return false;
        }
        return CpuidFunctional.Core.State.Xcr0.FirstSetXcrsEntry(xcrs) is not { } xcr0 || SetXcr(0, xcr0);
    }

    /// <summary>KVM_RUN.</summary>
    public void Run()
    {
        Events++;
        HasRun = true;
    }

    /// <summary>A CPL change.</summary>
    public void SetCpl(byte cpl)
    {
        Events++;
        Cpl = (byte)(cpl & 3);
    }

    /// <summary>INIT: CPL 0, CR0 ← ET with CD and NW kept, EFER ← 0, CR4 ← 0 through the vendor hook.</summary>
    public void Init()
    {
        Events++;
        Cpl = 0;
        Cr0 = Core.State.Cr0.AfterInit(Cr0);
        Efer = 0;
        VendorSetCr4(0);
    }

    /// <summary>KVM_CAP_DISABLE_QUIRKS2: false for EINVAL; never marks dirty.</summary>
    public bool DisableQuirks2(ulong mask)
    {
        Events++;
        var quirks = (KvmQuirks)mask;
        if ((quirks & ~supportedQuirks) != 0)
        {
            return false;
        }
        disabledQuirks = KernelProfiles.AssignsDisabledQuirks(profile) ? quirks : disabledQuirks | quirks;
        return true;
    }
}
