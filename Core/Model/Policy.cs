using System.Runtime.CompilerServices;

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

/// <summary>An update scheme and the rules it runs: KVM's, or (for negative tests) a wrong variant.</summary>
public readonly record struct Policy
{
    private readonly KvmRules? rules; // null for KVM's rules, so every KVM policy compares equal whatever built it

    /// <summary>A scheme with KVM's rules.</summary>
    public Policy(UpdateScheme scheme)
        : this(scheme, KvmRules.Kvm) { }

    /// <summary>A scheme with the given rules.</summary>
    public Policy(UpdateScheme scheme, KvmRules rules)
    {
        Scheme = scheme;
        this.rules = ReferenceEquals(rules, KvmRules.Kvm) ? null : rules;
    }

    /// <summary>When updates happen.</summary>
    public UpdateScheme Scheme { get; }

    /// <summary>The rules the step runs.</summary>
    public KvmRules Rules => rules ?? KvmRules.Kvm;

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

    /// <summary>Whether triggers only set the marker.</summary>
    public bool IsLazy
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Scheme is UpdateScheme.Lazy or UpdateScheme.LazyUnfixed;
    }

    /// <summary>
    /// The policy's one name, spelt so by every tool, report and file: <c>eager</c>, <c>lazy</c>, <c>lazy-unfixed</c>,
    /// <c>reference</c>; a scheme running a wrong variant adds <c>+</c> and the variant's name (<c>lazy+ForgetCr4Trigger</c>).
    /// </summary>
    public string Name => SchemeName(Scheme) + (rules is null ? "" : "+" + rules.Name);

    /// <inheritdoc/>
    public override string ToString() => Name;

    private static string SchemeName(UpdateScheme scheme) =>
        scheme switch
        {
            UpdateScheme.Eager => "eager",
            UpdateScheme.Lazy => "lazy",
            UpdateScheme.LazyUnfixed => "lazy-unfixed",
            UpdateScheme.Reference => "reference",
            _ => throw new System.Diagnostics.UnreachableException(),
        };
}
