namespace CpuidFunctional.Core.State;

/// <summary>IA32_EFER bits KVM_SET_SREGS checks against CR0 and CR4 (<c>kvm_is_valid_sregs</c>).</summary>
public static class Efer
{
    /// <summary>SVME, secure virtual machine enable (bit 12): VMRUN and friends #UD without it.</summary>
    public const ulong Svme = 1ul << 12;

    /// <summary>LME, long mode enable (bit 8).</summary>
    public const ulong Lme = 1ul << 8;

    /// <summary>LMA, long mode active (bit 10).</summary>
    public const ulong Lma = 1ul << 10;

    /// <summary>
    /// The EFER part of <c>kvm_is_valid_sregs</c>: with LME and CR0.PG (64-bit mode) CR4.PAE and LMA must be set;
    /// otherwise LMA must be clear. (CR3 against MAXPHYADDR and CS.L are not modelled.)
    /// </summary>
    public static bool IsValidWith(ulong efer, ulong cr0, ulong cr4) =>
        (efer & Lme) != 0 && (cr0 & Cr0.Pg) != 0 ? (cr4 & Cr4.Pae) != 0 && (efer & Lma) != 0 : (efer & Lma) == 0;

    /// <summary>
    /// EFER after the vendor <c>set_cr0</c> turns paging off (<c>vmx_set_cr0</c>'s <c>exit_lmode</c>, <c>svm_set_cr0</c>):
    /// with LME set, leaving paging leaves long mode (LMA clear); otherwise EFER is unchanged.
    /// </summary>
    public static ulong AfterPagingOff(ulong efer, ulong oldCr0) =>
        (efer & Lme) != 0 && (oldCr0 & Cr0.Pg) != 0 ? efer & ~Lma : efer;
}
