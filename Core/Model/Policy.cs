namespace CpuidFunctional.Core.Model;

/// <summary>When the dynamic CPUID outputs are brought up to date.</summary>
public enum UpdateScheme
{
    /// <summary>KVM 6.14: every trigger runs <c>kvm_update_cpuid_runtime</c> at once.</summary>
    Eager,

    /// <summary>KVM 6.15 with the Dec-2025 KVM_SET_CPUID2 fix: triggers set the marker; consumers clear it and materialize.</summary>
    Lazy,

    /// <summary>KVM 6.15 without the fix: KVM_SET_CPUID2 after KVM_RUN compares against a stale table and can lose the pending update.</summary>
    LazyUnfixed,

    /// <summary>Stores nothing dynamic: every observation computes the outputs from the current state (as QEMU and Xen do).</summary>
    Reference,
}

/// <summary>
/// Deliberately wrong rules, one per flag, so the test suite can show it catches each. Never set in production
/// use; the names say which rule is broken.
/// </summary>
[Flags]
public enum KvmBug
{
    /// <summary>The rules as KVM has them.</summary>
    None = 0,

    /// <summary>CR4 writes never trigger an update.</summary>
    ForgetCr4Trigger = 1 << 0,

    /// <summary>CR4 writes trigger only when OSXSAVE or PKE becomes set, not when cleared (the 2018 hot-reboot bug).</summary>
    Cr4TriggerOnlyOnSet = 1 << 1,

    /// <summary>XCR0 writes never trigger.</summary>
    ForgetXcr0Trigger = 1 << 2,

    /// <summary>IA32_XSS writes never trigger.</summary>
    ForgetXssTrigger = 1 << 3,

    /// <summary>IA32_APIC_BASE enable changes never trigger.</summary>
    ForgetApicBaseTrigger = 1 << 4,

    /// <summary>The VM-exit load of vmcs12 host CR4 never triggers.</summary>
    VmExitCr4NotTrigger = 1 << 5,

    /// <summary>SMM entry clears CR4 without any trigger.</summary>
    SmiNotTrigger = 1 << 6,

    /// <summary>Consumers clear the marker but skip the update.</summary>
    ClearMarkerWithoutMaterialize = 1 << 7,

    /// <summary>CPUID.0xD.1:EBX is rewritten only when XSAVES is exposed, not XSAVEC (Xen's bug).</summary>
    D1OnlyWithXsaves = 1 << 8,

    /// <summary>Compacted sizes ignore the 64-byte alignment flag (the pre-AMX bug).</summary>
    CompactedIgnoresAlignment = 1 << 9,

    /// <summary>Entries are found by exact (leaf, subleaf) key, last duplicate winning, instead of KVM's ordered first match.</summary>
    LookupByLeafSubleaf = 1 << 10,
}

/// <summary>An update scheme plus, for negative tests only, injected bugs.</summary>
/// <param name="Scheme">When updates happen.</param>
/// <param name="Bugs">Deliberately broken rules (none for the real schemes).</param>
public readonly record struct Policy(UpdateScheme Scheme, KvmBug Bugs = KvmBug.None)
{
    /// <summary>KVM 6.14.</summary>
    public static Policy Eager => new(UpdateScheme.Eager);

    /// <summary>KVM 6.15+ with the KVM_SET_CPUID2 fix.</summary>
    public static Policy Lazy => new(UpdateScheme.Lazy);

    /// <summary>KVM 6.15 before the KVM_SET_CPUID2 fix (known buggy).</summary>
    public static Policy LazyUnfixed => new(UpdateScheme.LazyUnfixed);

    /// <summary>Recompute at every observation.</summary>
    public static Policy Reference => new(UpdateScheme.Reference);

    /// <summary>The three correct policies, which must agree at every observation.</summary>
    public static IReadOnlyList<Policy> Correct { get; } = [Eager, Lazy, Reference];

    /// <summary>Whether a bug is injected.</summary>
    public bool Has(KvmBug bug) => (Bugs & bug) != 0;

    /// <summary>Whether triggers only set the marker.</summary>
    public bool IsLazy => Scheme is UpdateScheme.Lazy or UpdateScheme.LazyUnfixed;

    /// <inheritdoc/>
    public override string ToString() => Bugs == KvmBug.None ? Scheme.ToString() : $"{Scheme}+{Bugs}";
}
