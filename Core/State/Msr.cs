namespace CpuidFunctional.Core.State;

/// <summary>MSR indices and bits the model knows.</summary>
public static class Msr
{
    /// <summary>IA32_APIC_BASE.</summary>
    public const uint ApicBase = 0x1B;

    /// <summary>IA32_APIC_BASE bit 8: bootstrap processor.</summary>
    public const ulong ApicBaseBsp = 1ul << 8;

    /// <summary>IA32_APIC_BASE bit 10: x2APIC mode (EXTD).</summary>
    public const ulong ApicBaseExtd = 1ul << 10;

    /// <summary>IA32_APIC_BASE bit 11: APIC global enable.</summary>
    public const ulong ApicBaseEnable = 1ul << 11;

    /// <summary>
    /// IA32_APIC_BASE bits 0–7 and 9, reserved whatever the guest's features (<c>kvm_apic_set_base</c>; the bits above
    /// MAXPHYADDR and EXTD without x2APIC depend on the guest).
    /// </summary>
    public const ulong ApicBaseReservedLow = 0xFFul | (1ul << 9);

    /// <summary>The RESET value: 0xFEE00000 with enable and BSP.</summary>
    public const ulong ApicBaseDefault = 0xFEE0_0000 | ApicBaseEnable | ApicBaseBsp;

    /// <summary>MSR_PLATFORM_INFO (read-only for the guest).</summary>
    public const uint PlatformInfo = 0xCE;

    /// <summary>MSR_PLATFORM_INFO bit 31: CPUID faulting supported.</summary>
    public const ulong PlatformInfoCpuidFault = 1ul << 31;

    /// <summary>
    /// An index no KVM handles (no architectural MSR, outside the PMU, Hyper-V, KVM and Xen ranges): the guest's RDMSR and
    /// WRMSR are #GP and KVM_SET_MSRS and KVM_GET_MSRS stop there. The model's "MSR KVM does not know"; the model knows
    /// only some of the MSRs KVM does (IA32_TSC, for one, KVM accepts, and the model refuses).
    /// </summary>
    public const uint NotKnownToKvm = 0x1000_0000;

    /// <summary>IA32_TSX_CTRL.</summary>
    public const uint TsxCtrl = 0x122;

    /// <summary>IA32_TSX_CTRL bit 0: RTM_DISABLE.</summary>
    public const ulong TsxCtrlRtmDisable = 1ul << 0;

    /// <summary>IA32_TSX_CTRL bit 1: TSX_CPUID_CLEAR, which hides RTM and HLE in CPUID.7.0:EBX.</summary>
    public const ulong TsxCtrlCpuidClear = 1ul << 1;

    /// <summary>The IA32_TSX_CTRL bits KVM lets the guest write (<c>vmx_set_msr</c>); any other bit is #GP.</summary>
    public const ulong TsxCtrlWritable = TsxCtrlRtmDisable | TsxCtrlCpuidClear;

    /// <summary>MSR_MISC_FEATURES_ENABLES.</summary>
    public const uint MiscFeaturesEnables = 0x140;

    /// <summary>MSR_MISC_FEATURES_ENABLES bit 0: CPUID faulting.</summary>
    public const ulong MiscFeaturesCpuidFault = 1;

    /// <summary>IA32_MISC_ENABLE.</summary>
    public const uint MiscEnable = 0x1A0;

    /// <summary>IA32_MISC_ENABLE bit 7: performance monitoring available (EMON; guest writes ignored).</summary>
    public const ulong MiscEnableEmon = 1ul << 7;

    /// <summary>IA32_MISC_ENABLE bit 11: branch trace storage unavailable.</summary>
    public const ulong MiscEnableBtsUnavailable = 1ul << 11;

    /// <summary>IA32_MISC_ENABLE bit 12: processor event-based sampling unavailable.</summary>
    public const ulong MiscEnablePebsUnavailable = 1ul << 12;

    /// <summary>IA32_MISC_ENABLE bits 11 and 12: BTS and PEBS unavailable (read-only for the guest).</summary>
    public const ulong MiscEnablePmuReadOnly = MiscEnableBtsUnavailable | MiscEnablePebsUnavailable;

    /// <summary>IA32_MISC_ENABLE bit 18: MONITOR/MWAIT enabled.</summary>
    public const ulong MiscEnableMwait = 1ul << 18;

    /// <summary>The RESET value (<c>kvm_vcpu_reset</c>): BTS and PEBS unavailable.</summary>
    public const ulong MiscEnableDefault = MiscEnablePmuReadOnly;

    /// <summary>IA32_XSS.</summary>
    public const uint Xss = 0xDA0;

    /// <summary>IA32_EFER (0xC0000080).</summary>
    public const uint Efer = 0xC000_0080;

    /// <summary>MSR_VM_CR (0xC0010114): SVMDIS and its lock (KVM reads 0: SVM enabled, not locked).</summary>
    public const uint VmCr = 0xC001_0114;

    /// <summary>MSR_VM_HSAVE_PA (0xC0010117): where VMRUN saves the host state.</summary>
    public const uint VmHsavePa = 0xC001_0117;

    /// <summary>VMX_ABORT_LOAD_HOST_MSR_FAIL.</summary>
    public const uint VmxAbortLoadHostMsrFail = 4;
}
