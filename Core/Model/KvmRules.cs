using System.Diagnostics;
using CpuidFunctional.Core.Cpuid;
using CpuidFunctional.Core.Dynamic;
using CpuidFunctional.Core.Host;
using CpuidFunctional.Core.State;

namespace CpuidFunctional.Core.Model;

/// <summary>Where a write that may be a dynamic-CPUID trigger happens (spec §3), named after the KVM function.</summary>
public enum TriggerSite
{
    /// <summary><c>vmx_set_cr4</c> / <c>svm_set_cr4</c>: every CR4 load goes through it.</summary>
    SetCr4 = 1,

    /// <summary><c>__kvm_set_xcr</c>: XCR0.</summary>
    SetXcr,

    /// <summary><c>kvm_set_msr_common</c>, MSR_IA32_XSS.</summary>
    SetXss,

    /// <summary><c>__kvm_apic_set_base</c>: IA32_APIC_BASE.</summary>
    ApicSetBase,

    /// <summary><c>kvm_set_msr_common</c>, MSR_IA32_MISC_ENABLE bit 18 with MISC_ENABLE_NO_MWAIT disabled.</summary>
    MiscEnableMwait,

    /// <summary><c>enter_smm</c>, after CR4 is cleared.</summary>
    EnterSmm,

    /// <summary><c>sev_es_sync_from_ghcb</c> before 6.18 (the XCR0 copied from the GHCB).</summary>
    SevEsSyncFromGhcb,
}

/// <summary>A write at a trigger site: the register's value before and after.</summary>
/// <param name="Site">Where the write happens.</param>
/// <param name="Old">The value before.</param>
/// <param name="New">The value written.</param>
public readonly record struct SiteWrite(TriggerSite Site, ulong Old, ulong New);

/// <summary>
/// The rules <see cref="Kvm.Step"/> runs that a wrong variant may replace, one field each; <see cref="Kvm"/> holds
/// KVM's. A policy carries its rules (<see cref="Policy.Rules"/>); the handlers in <see cref="Model.Kvm"/> consult
/// them and nothing else, so a variant is this record with one field swapped (the variants live on the checking floor,
/// <c>Core/Checking/WrongRules.cs</c>).
/// </summary>
public sealed record KvmRules
{
    /// <summary>KVM's rules.</summary>
    public static KvmRules Kvm { get; } = new();

    /// <summary>The rules' name in reports ("KVM", or the variant's name).</summary>
    public string Name { get; init; } = "KVM";

    /// <summary>
    /// Spec §3: whether a write, made while handling an event, is a trigger. KVM's answer depends only on the write
    /// (<see cref="KvmTriggers"/>).
    /// </summary>
    /// <remarks>
    /// A lambda rather than the method group: a delegate bound to a static method runs every call (one per
    /// trigger-site write) through a shuffle thunk, while a static lambda is an instance method the delegate calls
    /// directly.
    /// </remarks>
    public Func<Vm, VcpuEvent, SiteWrite, bool> IsTrigger { get; init; } = static (vm, during, write) => KvmTriggers(vm, during, write);

    /// <summary>
    /// Spec §4: whether a consumer event runs <c>kvm_update_cpuid_runtime</c> where KVM does: guest CPUID and
    /// KVM_GET_CPUID2 after clearing a set marker, KVM_SET_CPUID2 on the table it installs before the first run
    /// (<c>kvm_vcpu_after_set_cpuid</c>). Every one does, in KVM.
    /// </summary>
    public Func<VcpuEvent, bool> ConsumerRunsUpdate { get; init; } = static _ => true;

    /// <summary>
    /// Whether IA32_MISC_ENABLE bit 18 owns CPUID.1:ECX.MWAIT (a dynamic output and a trigger): in KVM, once userspace
    /// has disabled the MISC_ENABLE_NO_MWAIT quirk.
    /// </summary>
    public Func<Vm, bool> MiscEnableOwnsMwait { get; init; } = static vm => !vm.QuirkInEffect(KvmQuirks.MiscEnableNoMwait);

    /// <summary>
    /// <c>__cr4_reserved_bits</c>: the CR4 bits KVM_SET_CPUID2 reserves for features the guest lacks (OSXSAVE without
    /// XSAVE, PKE without PKU, ...), from the guest's static feature bits.
    /// </summary>
    public Func<ulong, ulong> Cr4ReservedByFeatures { get; init; } = GuestCpuCaps.Cr4Reserved;

    /// <summary>
    /// Whether <c>sev_es_sync_from_ghcb</c> takes IA32_XSS from the GHCB (<see cref="KernelProfiles.SevEsSyncsXss"/>).
    /// Version 15 of the CET series refused it on the vendor path, so 0xD.1:EBX missed the CET state.
    /// </summary>
    public Func<Vm, bool> SevEsSyncsXss { get; init; } = static vm => KernelProfiles.SevEsSyncsXss(vm.Profile);

    /// <summary>How a CPUID entry is found: KVM's <c>kvm_find_cpuid_entry2</c> takes the first match in table order.</summary>
    public LookupRule Lookup { get; init; } = LookupRule.KvmOrderedFirstMatch;

    /// <summary>The CPUID.0xD.1:EAX formats that make <c>kvm_update_cpuid_runtime</c> rewrite 0xD.1:EBX: XSAVES or XSAVEC.</summary>
    public uint CompactedSizeFormats { get; init; } = DynamicBits.XsavesBit | DynamicBits.XsavecBit;

    /// <summary><c>xstate_required_size</c> on the host's layout: compacted offsets honour the 64-byte alignment flag.</summary>
    public Func<XsaveLayout, ulong, bool, uint> XstateRequiredSize { get; init; } =
        static (layout, xfeatures, compacted) => layout.RequiredSize(xfeatures, compacted);

    /// <summary>
    /// KVM's trigger conditions, one per site (spec §3): CR4 when OSXSAVE or PKE flips; XCR0 when a bit of
    /// <see cref="Xcr0.MaskExtend"/> changes; IA32_XSS on a change (6.18) or on every accepted write (earlier); APIC base
    /// when the enable bit flips; MISC_ENABLE when bit 18 flips; SMM entry and the pre-6.18 SEV-ES sync always.
    /// </summary>
    public static bool KvmTriggers(Vm vm, VcpuEvent during, SiteWrite write) =>
        write.Site switch
        {
            TriggerSite.SetCr4 => ((write.Old ^ write.New) & Cr4.DynamicBits) != 0,
            TriggerSite.SetXcr => ((write.Old ^ write.New) & Xcr0.MaskExtend) != 0,
            TriggerSite.SetXss => write.Old != write.New || !KernelProfiles.XssTriggersOnlyOnChange(vm.Profile),
            TriggerSite.ApicSetBase => ((write.Old ^ write.New) & Msr.ApicBaseEnable) != 0,
            TriggerSite.MiscEnableMwait => ((write.Old ^ write.New) & Msr.MiscEnableMwait) != 0,
            TriggerSite.EnterSmm or TriggerSite.SevEsSyncFromGhcb => true,
            _ => throw new UnreachableException($"unknown trigger site {write.Site}"),
        };

    /// <inheritdoc/>
    public override string ToString() => Name;
}
