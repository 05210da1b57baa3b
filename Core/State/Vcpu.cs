using CpuidFunctional.Core.Cpuid;

namespace CpuidFunctional.Core.State;

/// <summary>
/// One vCPU's state as far as dynamic CPUID is concerned: the inputs of the six dynamic outputs, the CPUID table,
/// the cached capability bits and the pending-update marker (<c>cpuid_dynamic_bits_dirty</c>). Immutable; a
/// transition returns a new snapshot, or this one when nothing changed. Compared by value (the table by content).
/// </summary>
/// <remarks>
/// What nested round trips write (CR4, XCR0, guest mode, the marker) lives on this object; what is written rarely
/// (IA32_XSS, APIC base, MISC_ENABLE, MISC_FEATURES_ENABLES, TSX_CTRL, SMM state, the KVM_SET_CPUID2 derivations)
/// lives in <see cref="Rare"/>, so a hot transition copies less than half as much (56 bytes on 64-bit). The rare registers read through this object
/// but are written through <see cref="Rare"/>, so every copy of the rare part is visible where it is made:
/// <c>v with { Rare = v.Rare with { MiscEnable = x, InSmm = true } }</c> copies it once.
/// </remarks>
public sealed record Vcpu
{
    /// <summary>
    /// CR4 of the level currently running (L2's while in guest mode). Only the low half is kept: no modelled kernel
    /// lets a bit of 63:32 into a vCPU (<see cref="Cr4.UpperHalf"/>). Setting one throws
    /// <see cref="ArgumentOutOfRangeException"/>: MOV to CR4 and KVM_SET_SREGS refuse such a value first
    /// (<c>kvm_is_valid_cr4</c>), and the nested events must carry a CR4 that KVM's consistency checks passed.
    /// </summary>
    public ulong Cr4
    {
        get => cr4;
        init => cr4 = (value & State.Cr4.UpperHalf) == 0 ? (uint)value : throw UpperHalfOfCr4(nameof(Cr4), value);
    }

    // Out of the setter, so that every copy that sets CR4 (two a nested round trip) can inline it.
    private static ArgumentOutOfRangeException UpperHalfOfCr4(string paramName, ulong value) =>
        new(paramName, value, $"CR4 0x{value:X}: bits 63:32 are reserved on every modelled kernel (kvm_is_valid_cr4 refuses them), so no vCPU holds them");

    /// <summary>XCR0 (shared by L1 and L2).</summary>
    public ulong Xcr0 { get; init; } = 1;

    /// <summary>Current privilege level (0–3).</summary>
    public byte Cpl { get; init; }

    /// <summary>KVM_RUN has entered the guest at least once (<c>kvm_vcpu_has_run</c>).</summary>
    public bool HasRun
    {
        get => (flags & Flags.HasRun) != 0;
        init => flags = With(Flags.HasRun, value);
    }

    /// <summary>L2 is running (<c>is_guest_mode</c>).</summary>
    public bool GuestMode
    {
        get => (flags & Flags.GuestMode) != 0;
        init => flags = With(Flags.GuestMode, value);
    }

    /// <summary>
    /// While L2 runs: what L0 keeps for the vendor's nested code (<see cref="NestedSvm"/> under SVM; under VMX a
    /// <see cref="NestedVmx"/> only when L1 owns a CR4 bit); null otherwise.
    /// </summary>
    public NestedState? Nested { get; init; }

    /// <summary>While L2 runs under nested SVM: vmcb12's CPUID/XSETBV intercepts and L1's saved CR4; null otherwise (and under VMX).</summary>
    public NestedSvm? Svm => Nested as NestedSvm;

    /// <summary>While L2 runs under nested VMX with CR4 bits L1 owns: vmcs12's CR4 mask, read shadow and GUEST_CR4; null otherwise.</summary>
    public NestedVmx? Vmx => Nested as NestedVmx;

    /// <summary>The CPUID table (<c>vcpu->arch.cpuid_entries</c>).</summary>
    public CpuidTable Cpuid { get; init; } = CpuidTable.Empty;

    /// <summary>The dynamic bits of <c>vcpu->arch.cpu_caps</c>.</summary>
    public DynamicCaps Caps { get; init; }

    /// <summary><c>vcpu->arch.cpuid_dynamic_bits_dirty</c>: an update is pending (lazy schemes only).</summary>
    public bool CpuidDynamicBitsDirty
    {
        get => (flags & Flags.CpuidDynamicBitsDirty) != 0;
        init => flags = With(Flags.CpuidDynamicBitsDirty, value);
    }

    /// <summary>
    /// The table, its dynamic capability bits and the marker, read or written together
    /// (<c>v with { Xcr0 = x, Runtime = r }</c>; why, at <c>Kvm</c>'s <c>AfterWrite</c>). No field of its own: equality and
    /// the hash see the three properties.
    /// </summary>
    internal CpuidRuntime Runtime
    {
        get => new(Cpuid, Caps, CpuidDynamicBitsDirty);
        init
        {
            // Most writes keep the table (all but updates that change an output): then the copy's reference is not
            // stored again, which would cost a GC write barrier.
            if (!ReferenceEquals(Cpuid, value.Table))
            {
                Cpuid = value.Table;
            }
            Caps = value.Caps;
            CpuidDynamicBitsDirty = value.Dirty;
        }
    }

    /// <summary>The rarely written registers; compared by value like every other member.</summary>
    public VcpuRare Rare { get; init; } = VcpuRare.AtReset;

    /// <summary>IA32_XSS (0xDA0); written through <see cref="Rare"/>.</summary>
    public ulong Xss => Rare.Xss;

    /// <summary>CR0 (KVM_SET_SREGS, RESET and INIT only; see <see cref="VcpuRare.Cr0"/>).</summary>
    public ulong Cr0 => Rare.Cr0;

    /// <summary>IA32_APIC_BASE (0x1B): a guest moves the APIC or switches x2APIC mode about once per boot.</summary>
    public ulong ApicBase => Rare.ApicBase;

    /// <summary>IA32_EFER (KVM_SET_SREGS, RESET and INIT only).</summary>
    public ulong Efer => Rare.Efer;

    /// <summary>IA32_MISC_ENABLE (0x1A0).</summary>
    public ulong MiscEnable => Rare.MiscEnable;

    /// <summary>MSR_MISC_FEATURES_ENABLES (0x140): bit 0 is CPUID faulting.</summary>
    public ulong MiscFeaturesEnables => Rare.MiscFeaturesEnables;

    /// <summary>MSR_PLATFORM_INFO (0xCE): bit 31 is CPUID faulting supported.</summary>
    public ulong PlatformInfo => Rare.PlatformInfo;

    /// <summary>IA32_TSX_CTRL (0x122): bit 1 hides RTM/HLE in CPUID answers.</summary>
    public ulong TsxCtrl => Rare.TsxCtrl;

    /// <summary>In system-management mode.</summary>
    public bool InSmm => Rare.InSmm;

    /// <summary>CR4 saved in SMRAM at SMM entry, restored by RSM.</summary>
    public ulong SmramCr4 => Rare.SmramCr4;

    /// <summary>CPL saved at SMM entry, restored by RSM.</summary>
    public byte SmramCpl => Rare.SmramCpl;

    /// <summary>What KVM_SET_CPUID2 derived from the table (static <c>cpu_caps</c>, supported XCR0/XSS, MAXPHYADDR, CR4 reserved bits).</summary>
    public GuestCaps Guest => Rare.Guest;

    /// <summary>Whether a CR4 bit is set.</summary>
    public bool Cr4Has(ulong bit) => (Cr4 & bit) != 0;

    // The storage behind Cr4 and the three flags: with the three references, XCR0, CPL and the caps they fill 40
    // bytes, so a copy (what every hot transition makes) is 56 bytes on 64-bit instead of 64. Value equality and
    // the hash read these fields, like every other field of the record.
    private readonly uint cr4;
    private readonly Flags flags;

    [Flags]
    private enum Flags : byte
    {
        HasRun = 1,
        GuestMode = 2,
        CpuidDynamicBitsDirty = 4,
    }

    private Flags With(Flags flag, bool set) => set ? flags | flag : flags & ~flag;

    /// <summary>CPUID faulting applies: MISC_FEATURES_ENABLES.CPUID_FAULT and CPL above 0 (<c>kvm_emulate_cpuid</c>).</summary>
    public bool CpuidFaults => (MiscFeaturesEnables & Msr.MiscFeaturesCpuidFault) != 0 && Cpl > 0;
}
