namespace CpuidFunctional.Core.State;

/// <summary>
/// IA32_EFER's bits, what KVM_SET_SREGS checks against CR0 and CR4 (<c>kvm_is_valid_sregs</c>), and what a write
/// through the MSR must pass (<c>set_efer</c>; the bits themselves: <see cref="Model.Kvm.EferValidBits"/>).
/// </summary>
public static class Efer
{
    /// <summary>SCE, SYSCALL enable (bit 0).</summary>
    public const ulong Sce = 1ul << 0;

    /// <summary>NXE, no-execute enable (bit 11).</summary>
    public const ulong Nxe = 1ul << 11;

    /// <summary>LMSLE, long-mode segment limit enable (bit 13; kvm_amd with nested virtualization).</summary>
    public const ulong Lmsle = 1ul << 13;

    /// <summary>FFXSR, fast FXSAVE/FXRSTOR (bit 14).</summary>
    public const ulong Ffxsr = 1ul << 14;

    /// <summary>AUTOIBRS, automatic IBRS (bit 21).</summary>
    public const ulong AutoIbrs = 1ul << 21;

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

    /// <summary>
    /// <c>set_efer</c>: the EFER a write of <paramref name="value"/> leaves (LMA is KVM's: the current one is kept), or
    /// null if refused (#GP, or the stop of KVM_SET_MSRS). Refused: a bit KVM reserves on the host (outside
    /// <paramref name="kvmBits"/>); for the guest also a bit it may not set (outside <paramref name="guestValidBits"/>,
    /// <c>__kvm_valid_efer</c>) and a change of LME while paging is on.
    /// </summary>
    public static ulong? Set(ulong current, ulong cr0, ulong value, bool hostInitiated, ulong kvmBits, ulong guestValidBits)
    {
        if ((value & ~kvmBits) != 0)
        {
            return null;
        }
        if (!hostInitiated && ((value & ~guestValidBits) != 0 || ((cr0 & Cr0.Pg) != 0 && ((current ^ value) & Lme) != 0)))
        {
            return null;
        }
        return (value & ~Lma) | (current & Lma);
    }
}
