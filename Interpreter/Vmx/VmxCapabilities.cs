namespace CpuidFunctional.Interpreter.Vmx;

/// <summary>
/// The nested-VMX capabilities L0 reports to L1 through the IA32_VMX_* MSRs (0x480–0x491), and the
/// control bits the interpreter acts on. Allowed-0 settings (bits that must be 1) are the SDM's default-1 classes; the
/// TRUE MSRs relax the ones KVM relaxes. Allowed-1 settings contain only controls the interpreter honours or whose
/// events cannot happen in it (no interrupts, no paging changes).
/// </summary>
public static class VmxCapabilities
{
    /// <summary>VMCS revision identifier (KVM's <c>VMCS12_REVISION</c>).</summary>
    public const uint Revision = 0x11e5_7ed0;

    /// <summary>IA32_FEATURE_CONTROL (0x3A) as the VMM set it: locked, VMXON allowed outside SMX.</summary>
    public const ulong FeatureControl = 0x5;

    /// <summary>IA32_FEATURE_CONTROL.</summary>
    public const uint MsrFeatureControl = 0x3A;

    /// <summary>IA32_VMX_BASIC.</summary>
    public const uint MsrVmxBasic = 0x480;

    /// <summary>IA32_VMX_MISC.</summary>
    public const uint MsrVmxMisc = 0x485;

    /// <summary>IA32_VMX_VMCS_ENUM (last readable capability in the first block).</summary>
    public const uint MsrVmxVmcsEnum = 0x48A;

    /// <summary>IA32_VMX_TRUE_PINBASED_CTLS.</summary>
    public const uint MsrVmxTruePinbasedCtls = 0x48D;

    /// <summary>IA32_VMX_TRUE_ENTRY_CTLS.</summary>
    public const uint MsrVmxTrueEntryCtls = 0x490;

    /// <summary>IA32_VMX_BASIC: revision, 4 KiB region size, write-back memory type, TRUE controls available (bit 55).</summary>
    public const ulong Basic = Revision | (0x1000ul << 32) | (6ul << 50) | (1ul << 55);

    /// <summary>Pin-based control: NMI exiting (bit 3).</summary>
    public const uint PinNmiExiting = 1u << 3;

    /// <summary>Pin-based control: virtual NMIs (bit 5).</summary>
    public const uint PinVirtualNmis = 1u << 5;

    /// <summary>VM-entry control: load debug controls (DR7 and IA32_DEBUGCTL, bit 2).</summary>
    public const uint EntryLoadDebugControls = 1u << 2;

    /// <summary>Pin-based controls that must be 1 (default-1 bits 1, 2, 4).</summary>
    public const uint PinMust1 = 0x16;

    /// <summary>Pin-based controls that may be 1: external-interrupt exiting, NMI exiting, virtual NMIs.</summary>
    public const uint PinMay1 = PinMust1 | 0x1 | 0x8 | 0x20;

    /// <summary>Primary processor-based control: HLT exiting (bit 7).</summary>
    public const uint ProcHltExiting = 1u << 7;

    /// <summary>Primary processor-based control: unconditional I/O exiting (bit 24).</summary>
    public const uint ProcUnconditionalIoExiting = 1u << 24;

    /// <summary>Primary processor-based control: PAUSE exiting (bit 30).</summary>
    public const uint ProcPauseExiting = 1u << 30;

    /// <summary>Primary processor-based controls that must be 1 without TRUE MSRs (default-1 class).</summary>
    public const uint ProcMust1 = 0x0401_E172;

    /// <summary>Primary controls that must be 1 per IA32_VMX_TRUE_PROCBASED_CTLS (CR3-load/store exiting relaxed).</summary>
    public const uint ProcTrueMust1 = 0x0400_6172;

    /// <summary>
    /// Primary controls that may be 1: HLT, INVLPG, MWAIT, RDPMC, RDTSC, CR3-load/store, CR8-load/store, MOV-DR,
    /// unconditional I/O, MONITOR and PAUSE exiting. No secondary controls, no MSR or I/O bitmaps.
    /// </summary>
    public const uint ProcMay1 = ProcMust1 | ProcHltExiting | (1u << 9) | (1u << 10) | (1u << 11) | (1u << 12)
        | (1u << 15) | (1u << 16) | (1u << 19) | (1u << 20) | (1u << 23) | ProcUnconditionalIoExiting | (1u << 29)
        | ProcPauseExiting;

    /// <summary>VM-exit control: host address-space size (bit 9).</summary>
    public const uint ExitHostAddressSpaceSize = 1u << 9;

    /// <summary>VM-exit control: save IA32_EFER (bit 20).</summary>
    public const uint ExitSaveEfer = 1u << 20;

    /// <summary>VM-exit control: load IA32_EFER (bit 21).</summary>
    public const uint ExitLoadEfer = 1u << 21;

    /// <summary>VM-exit controls that must be 1 (default-1 class).</summary>
    public const uint ExitMust1 = 0x0003_6DFF;

    /// <summary>VM-exit controls that must be 1 per the TRUE MSR (save-debug-controls relaxed).</summary>
    public const uint ExitTrueMust1 = 0x0003_6DFB;

    /// <summary>VM-exit controls that may be 1: host address-space size, acknowledge interrupt, save/load EFER.</summary>
    public const uint ExitMay1 = ExitMust1 | ExitHostAddressSpaceSize | (1u << 15) | ExitSaveEfer | ExitLoadEfer;

    /// <summary>VM-entry control: IA-32e mode guest (bit 9).</summary>
    public const uint EntryIa32eModeGuest = 1u << 9;

    /// <summary>VM-entry control: load IA32_EFER (bit 15).</summary>
    public const uint EntryLoadEfer = 1u << 15;

    /// <summary>VM-entry controls that must be 1 (default-1 class).</summary>
    public const uint EntryMust1 = 0x11FF;

    /// <summary>VM-entry controls that must be 1 per the TRUE MSR (load-debug-controls relaxed).</summary>
    public const uint EntryTrueMust1 = 0x11FB;

    /// <summary>VM-entry controls that may be 1: IA-32e mode guest, load EFER.</summary>
    public const uint EntryMay1 = EntryMust1 | EntryIa32eModeGuest | EntryLoadEfer;

    /// <summary>IA32_VMX_MISC: the HLT activity state (bit 6).</summary>
    public const ulong MiscActivityHlt = 1ul << 6;

    /// <summary>IA32_VMX_MISC: the wait-for-SIPI activity state (bit 8).</summary>
    public const ulong MiscActivityWaitSipi = 1ul << 8;

    /// <summary>IA32_VMX_MISC: VMWRITE may write any supported field, the VM-exit information fields too (bit 29).</summary>
    public const ulong MiscVmwriteAnyField = 1ul << 29;

    /// <summary>
    /// IA32_VMX_MISC as KVM's <c>nested_vmx_setup_misc_data</c> builds it for L1: the host's "store EFER.LMA on exit"
    /// (bit 5; every modelled host has it), the emulated preemption-timer rate 5 (bits 4:0), the HLT and wait-for-SIPI
    /// activity states, VMWRITE to any field; bits 24:16 (CR3 targets) and 27:25 (512-entry MSR lists) are 0.
    /// </summary>
    public const ulong Misc = 5ul | (1ul << 5) | MiscActivityHlt | MiscActivityWaitSipi | MiscVmwriteAnyField;

    /// <summary>The number of CR3-target values IA32_VMX_MISC bits 24:16 allow (<c>nested_cpu_vmx_misc_cr3_count</c>): 0.</summary>
    public const ulong MiscCr3Targets = (Misc >> 16) & 0x1FF;

    /// <summary>CR0 bits fixed to 1 in VMX operation: PE, NE, PG (no unrestricted guest).</summary>
    public const ulong Cr0Fixed0 = 0x8000_0021;

    /// <summary>CR0 bits allowed to be 1 in VMX operation.</summary>
    public const ulong Cr0Fixed1 = 0xFFFF_FFFF;

    /// <summary>CR4 bits fixed to 1 in VMX operation: VMXE.</summary>
    public const ulong Cr4Fixed0 = Core.State.Cr4.Vmxe;

    /// <summary>CR4 bits allowed to be 1 in VMX operation (then subject to the guest's CPUID, as KVM checks).</summary>
    public const ulong Cr4Fixed1 = Core.State.Cr4.Architectural;

    /// <summary>Most MSR-load entries KVM processes (512 × (IA32_VMX_MISC[27:25] + 1)).</summary>
    public const int MaxMsrListEntries = 512;

    /// <summary>
    /// IA32_VMX_VMCS_ENUM (<c>nested_vmx_calc_vmcs_enum_msr</c>): the highest field index (bits 9:1) of any vmcs12
    /// field, TSC_MULTIPLIER's 0x19.
    /// </summary>
    public const ulong VmcsEnum = 0x19 << 1;

    /// <summary>The value of a VMX capability MSR, or null for an index the interpreter does not answer (#GP).</summary>
    public static ulong? ReadMsr(uint index) =>
        index switch
        {
            MsrFeatureControl => FeatureControl,
            0x480 => Basic,
            0x481 => Allowed(PinMust1, PinMay1),
            0x482 => Allowed(ProcMust1, ProcMay1),
            0x483 => Allowed(ExitMust1, ExitMay1),
            0x484 => Allowed(EntryMust1, EntryMay1),
            MsrVmxMisc => Misc,
            0x486 => Cr0Fixed0,
            0x487 => Cr0Fixed1,
            0x488 => Cr4Fixed0,
            0x489 => Cr4Fixed1,
            0x48A => VmcsEnum,
            // Secondary controls, EPT/VPID capabilities, VM functions: KVM always answers them (vmx_get_vmx_msr); the
            // model offers none of these features (no "activate secondary controls" in the primary allowed-1 bits).
            0x48B or 0x48C or 0x491 => 0,
            0x48D => Allowed(PinMust1, PinMay1),
            0x48E => Allowed(ProcTrueMust1, ProcMay1),
            0x48F => Allowed(ExitTrueMust1, ExitMay1),
            0x490 => Allowed(EntryTrueMust1, EntryMay1),
            _ => null,
        };

    /// <summary>Whether the interpreter (not Core) owns an MSR index: IA32_FEATURE_CONTROL and the VMX capability range.</summary>
    public static bool OwnsMsr(uint index) => index == MsrFeatureControl || index is >= 0x480 and <= 0x491;

    private static ulong Allowed(uint must1, uint may1) => must1 | ((ulong)may1 << 32);
}
