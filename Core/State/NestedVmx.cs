namespace CpuidFunctional.Core.State;

/// <summary>
/// What L0 keeps from vmcs12 while L2 runs under nested VMX with CR4 bits owned by L1 (<see cref="Vcpu.Nested"/>; null
/// when L1 owns no CR4 bit, and outside guest mode): vmcs12's CR4_GUEST_HOST_MASK, CR4_READ_SHADOW and the GUEST_CR4
/// the entry loaded (vmcs12 keeps it until the VM exit syncs it back).
/// </summary>
/// <param name="Cr4GuestHostMask">vmcs12 CR4_GUEST_HOST_MASK: the CR4 bits L1 owns.</param>
/// <param name="Cr4ReadShadow">vmcs12 CR4_READ_SHADOW: what L2 reads in the bits L1 owns.</param>
/// <param name="GuestCr4">vmcs12 GUEST_CR4 as the entry loaded it.</param>
// A class, not a struct: a nullable three-ulong struct took 32 bytes of every Vcpu copy; only an entry where L1 owns a
// CR4 bit allocates one.
public sealed record NestedVmx(ulong Cr4GuestHostMask, ulong Cr4ReadShadow, ulong GuestCr4) : NestedState
{
    /// <summary>
    /// <c>nested_vmx_exit_handled_cr</c> for MOV to CR4: L1 wants the exit iff the value differs from its read shadow
    /// in a bit it owns.
    /// </summary>
    public bool ExitHandledCr4(ulong value) => ((value ^ Cr4ReadShadow) & Cr4GuestHostMask) != 0;

    /// <summary>
    /// <c>handle_set_cr4</c> in guest mode (L1 did not want the exit): the value L0 passes to <c>kvm_set_cr4</c>, the
    /// bits L1 owns taken from vmcs12's GUEST_CR4, the rest from L2's source operand.
    /// </summary>
    public ulong HandleSetCr4(ulong value) => (value & ~Cr4GuestHostMask) | (GuestCr4 & Cr4GuestHostMask);

    /// <summary>MOV from CR4 in L2: the bits L1 owns read from its read shadow, the rest from L2's CR4.</summary>
    public ulong ReadCr4(ulong cr4) => (cr4 & ~Cr4GuestHostMask) | (Cr4ReadShadow & Cr4GuestHostMask);
}

/// <summary>
/// The L2 instructions L0 could emulate itself whose nested VMX reflection the model decides
/// (<see cref="Model.Kvm.NestedVmxL1WantsExit"/>).
/// </summary>
public enum VmxL2Instruction
{
    /// <summary>CPUID: always exits to L1.</summary>
    Cpuid,

    /// <summary>XSETBV: always exits to L1 (after its #UD and #GP).</summary>
    Xsetbv,

    /// <summary>MOV to CR4: exits iff it changes a bit L1 owns from L1's read shadow.</summary>
    MovToCr4,

    /// <summary>A triple fault in L2: always exits to L1 (<c>nested_vmx_triple_fault</c>).</summary>
    TripleFault,
}
