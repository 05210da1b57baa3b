namespace CpuidFunctional.Core.State;

/// <summary>
/// The vmcb12 intercepts of the L2 instructions L0 could emulate itself (KVM's <c>INTERCEPT_CPUID</c> and
/// <c>INTERCEPT_XSETBV</c> bits of the cached vmcb12 control area). vmcb02 intercepts both for L0 anyway (the union
/// with vmcb01's, <c>init_vmcb</c> sets <c>INTERCEPT_CPUID</c>), so the exit always reaches L0, which reflects it to
/// L1 only if one of these bits says so (<c>nested_svm_intercept</c>).
/// </summary>
[Flags]
public enum Vmcb12Intercepts : byte
{
    /// <summary>L1 intercepts neither: L0 emulates CPUID and XSETBV for L2.</summary>
    None = 0,

    /// <summary><c>INTERCEPT_CPUID</c> (exit code 0x72).</summary>
    Cpuid = 1,

    /// <summary><c>INTERCEPT_XSETBV</c> (exit code 0x8D).</summary>
    Xsetbv = 2,

    /// <summary><c>INTERCEPT_SHUTDOWN</c> (exit code 0x7F): a triple fault in L2 is L1's (<c>nested_svm_triple_fault</c>).</summary>
    Shutdown = 4,
}

/// <summary>
/// What L0 keeps while L2 runs under nested SVM (<see cref="Vcpu.Nested"/>; null otherwise): the intercepts L0 needs
/// from the cached vmcb12, and L1's CR4 that <c>nested_svm_vmrun</c> saved in vmcb01 and <c>nested_svm_vmexit</c>
/// restores through <c>svm_set_cr4</c>.
/// </summary>
/// <param name="Intercepts">vmcb12's CPUID and XSETBV intercepts.</param>
/// <param name="Vmcb01Cr4">L1's CR4 at VMRUN (<c>vmcb01-&gt;save.cr4</c>).</param>
// A class, not a struct: the Vcpu keeps a reference (8 bytes) instead of a 24-byte nullable struct in every copy,
// and only VMRUN allocates one.
public sealed record NestedSvm(Vmcb12Intercepts Intercepts, ulong Vmcb01Cr4) : NestedState
{
    /// <summary>Whether vmcb12 intercepts an instruction (<c>vmcb12_is_intercept</c>).</summary>
    public bool IsIntercept(Vmcb12Intercepts instruction) => (Intercepts & instruction) != 0;
}
