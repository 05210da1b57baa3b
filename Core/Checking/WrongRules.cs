using CpuidFunctional.Core.Dynamic;
using CpuidFunctional.Core.Model;
using CpuidFunctional.Core.State;

namespace CpuidFunctional.Core.Checking;

/// <summary>
/// Deliberately wrong variants of <see cref="KvmRules.Kvm"/>, each replacing one rule, so the test suite can show it
/// catches each (the teeth tests, docs/counterexamples.md, <c>cpuidf random/check --bug</c>). Several are the shape of
/// a real bug in KVM's history or in another hypervisor; the names say which rule is broken. The model never uses
/// them: they live on the checking floor.
/// </summary>
public static class WrongRules
{
    /// <summary>CR4 writes never trigger an update.</summary>
    public static KvmRules ForgetCr4Trigger { get; } = Without(nameof(ForgetCr4Trigger), TriggerSite.SetCr4);

    /// <summary>CR4 writes trigger only when OSXSAVE or PKE becomes set, not when cleared (the 2018 hot-reboot bug).</summary>
    public static KvmRules Cr4TriggerOnlyOnSet { get; } = KvmRules.Kvm with
    {
        Name = nameof(Cr4TriggerOnlyOnSet),
        IsTrigger = static (vm, e, w) =>
            w.Site == TriggerSite.SetCr4 ? (w.New & ~w.Old & Cr4.DynamicBits) != 0 : KvmRules.KvmTriggers(vm, e, w),
    };

    /// <summary>XCR0 writes never trigger (neither XSETBV nor the pre-6.18 SEV-ES copy).</summary>
    public static KvmRules ForgetXcr0Trigger { get; } =
        Without(nameof(ForgetXcr0Trigger), TriggerSite.SetXcr, TriggerSite.SevEsSyncFromGhcb);

    /// <summary>IA32_XSS writes never trigger.</summary>
    public static KvmRules ForgetXssTrigger { get; } = Without(nameof(ForgetXssTrigger), TriggerSite.SetXss);

    /// <summary>IA32_APIC_BASE enable changes never trigger.</summary>
    public static KvmRules ForgetApicBaseTrigger { get; } = Without(nameof(ForgetApicBaseTrigger), TriggerSite.ApicSetBase);

    /// <summary>
    /// The nested VM exit's load of vmcs12's HOST_CR4 never triggers (the VMX half of the 2020 bug fixed by sinking
    /// the update into the vendor <c>set_cr4</c>).
    /// </summary>
    public static KvmRules VmExitCr4NotTrigger { get; } =
        WithoutDuring(nameof(VmExitCr4NotTrigger), static e => e is VcpuEvent.NestedVmExit, TriggerSite.SetCr4);

    /// <summary>SMM entry clears CR4 without any trigger.</summary>
    public static KvmRules SmiNotTrigger { get; } =
        WithoutDuring(nameof(SmiNotTrigger), static e => e is VcpuEvent.EnterSmm, Enum.GetValues<TriggerSite>());

    /// <summary>
    /// The nested VM entry's load of vmcs12's GUEST_CR4 never triggers (the VM-entry half of the 2020 bug: after entry
    /// L2 saw L1's OSXSAVE/OSPKE).
    /// </summary>
    public static KvmRules VmEntryCr4NotTrigger { get; } =
        WithoutDuring(nameof(VmEntryCr4NotTrigger), static e => e is VcpuEvent.NestedVmEntry, TriggerSite.SetCr4);

    /// <summary>
    /// VMRUN loads vmcb12's save.cr4 without the <c>svm_set_cr4</c> trigger (the SVM half of the 2020 bug fixed by
    /// sinking the update into the vendor <c>set_cr4</c>): L2 then sees L1's OSXSAVE/OSPKE, and on SVM it can see them
    /// itself, because L0 answers an L2 CPUID that L1 does not intercept.
    /// </summary>
    public static KvmRules VmrunCr4NotTrigger { get; } =
        WithoutDuring(nameof(VmrunCr4NotTrigger), static e => e is VcpuEvent.NestedSvmVmrun, TriggerSite.SetCr4);

    /// <summary>
    /// RESET assigns XCR0 and IA32_XSS directly, without the writes' triggers, so the XSAVE sizes are not refreshed
    /// (the bug fixed by 05a9e065059e, which routed them through <c>__kvm_set_xcr</c> and the MSR write).
    /// </summary>
    public static KvmRules ResetAssignsXcr0AndXss { get; } =
        WithoutDuring(nameof(ResetAssignsXcr0AndXss), static e => e is VcpuEvent.Reset, TriggerSite.SetXcr, TriggerSite.SetXss);

    /// <summary>Guest CPUID and KVM_GET_CPUID2 clear the marker but skip the update.</summary>
    public static KvmRules ClearMarkerWithoutMaterialize { get; } = KvmRules.Kvm with
    {
        Name = nameof(ClearMarkerWithoutMaterialize),
        ConsumerRunsUpdate = static e => e is not (VcpuEvent.Cpuid or VcpuEvent.GetCpuid2),
    };

    /// <summary>
    /// KVM_SET_CPUID2 installs userspace's table without the runtime update, so its 0xD sizes, OSXSAVE and APIC bits
    /// stay what userspace wrote until the next trigger (what QEMU's 2018 "0xD.0:EBX = 0" tables met on kernels
    /// without the recompute).
    /// </summary>
    public static KvmRules SetCpuidKeepsUserspaceBits { get; } = KvmRules.Kvm with
    {
        Name = nameof(SetCpuidKeepsUserspaceBits),
        ConsumerRunsUpdate = static e => e is not VcpuEvent.SetCpuid2,
    };

    /// <summary>
    /// The MISC_ENABLE_NO_MWAIT quirk with its polarity inverted: IA32_MISC_ENABLE bit 18 owns CPUID.1:ECX.MWAIT while
    /// the quirk is in effect instead of once it is disabled.
    /// </summary>
    public static KvmRules MwaitQuirkInverted { get; } = KvmRules.Kvm with
    {
        Name = nameof(MwaitQuirkInverted),
        MiscEnableOwnsMwait = static vm => vm.QuirkInEffect(KvmQuirks.MiscEnableNoMwait),
    };

    /// <summary>CPUID.0xD.1:EBX is rewritten only when XSAVES is exposed, not XSAVEC (Xen's bug).</summary>
    public static KvmRules D1OnlyWithXsaves { get; } =
        KvmRules.Kvm with { Name = nameof(D1OnlyWithXsaves), CompactedSizeFormats = DynamicBits.XsavesBit };

    /// <summary>Compacted sizes ignore the 64-byte alignment flag (the pre-AMX bug).</summary>
    public static KvmRules CompactedIgnoresAlignment { get; } = KvmRules.Kvm with
    {
        Name = nameof(CompactedIgnoresAlignment),
        XstateRequiredSize = static (layout, xfeatures, compacted) => layout.RequiredSize(xfeatures, compacted, honourAlignment: false),
    };

    /// <summary>Entries are found by exact (leaf, subleaf) key, last duplicate winning, instead of KVM's ordered first match.</summary>
    public static KvmRules LookupByLeafSubleaf { get; } =
        KvmRules.Kvm with { Name = nameof(LookupByLeafSubleaf), Lookup = Cpuid.LookupRule.KeyedByLeafSubleaf };

    /// <summary>
    /// CR4.OSXSAVE is not reserved when the guest's CPUID lacks XSAVE, so the guest can set it and CPUID.1:ECX.OSXSAVE
    /// reads 1 on a vCPU without XSAVE (Xen's 2019 bug: the mirror must be impossible there).
    /// </summary>
    public static KvmRules OsXsaveWithoutXsave { get; } = KvmRules.Kvm with
    {
        Name = nameof(OsXsaveWithoutXsave),
        Cr4ReservedByFeatures = static features => GuestCpuCaps.Cr4Reserved(features) & ~Cr4.OsXsave,
    };

    /// <summary>
    /// The SEV-ES GHCB's IA32_XSS is refused on the vendor path (version 15 of the CET series): the guest's CET state is
    /// missing from CPUID.0xD.1:EBX (on a Zen layout with XCR0 0x207 and XSS 0x1800, 840 instead of 880).
    /// </summary>
    public static KvmRules SevEsXssRefused { get; } = KvmRules.Kvm with { Name = nameof(SevEsXssRefused), SevEsSyncsXss = static _ => false };

    /// <summary>Every variant, in the order above.</summary>
    public static IReadOnlyList<KvmRules> All { get; } =
    [
        ForgetCr4Trigger, Cr4TriggerOnlyOnSet, ForgetXcr0Trigger, ForgetXssTrigger, ForgetApicBaseTrigger, VmExitCr4NotTrigger,
        SmiNotTrigger, ClearMarkerWithoutMaterialize, D1OnlyWithXsaves, CompactedIgnoresAlignment, LookupByLeafSubleaf,
        VmEntryCr4NotTrigger, ResetAssignsXcr0AndXss, SetCpuidKeepsUserspaceBits, MwaitQuirkInverted, OsXsaveWithoutXsave,
        SevEsXssRefused, VmrunCr4NotTrigger,
    ];

    /// <summary>A variant by its name (case-insensitive), or null.</summary>
    public static KvmRules? Named(string name) => All.FirstOrDefault(r => string.Equals(r.Name, name, StringComparison.OrdinalIgnoreCase));

    /// <summary>KVM's rules with the triggers at some sites dropped.</summary>
    private static KvmRules Without(string name, params TriggerSite[] sites) => WithoutDuring(name, static _ => true, sites);

    /// <summary>KVM's rules with the triggers at some sites dropped while handling the events <paramref name="during"/> picks.</summary>
    private static KvmRules WithoutDuring(string name, Func<VcpuEvent, bool> during, params TriggerSite[] sites) => KvmRules.Kvm with
    {
        Name = name,
        IsTrigger = (vm, e, w) => !(during(e) && Array.IndexOf(sites, w.Site) >= 0) && KvmRules.KvmTriggers(vm, e, w),
    };
}
