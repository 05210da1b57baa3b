namespace CpuidFunctional.Core.State;

/// <summary>CR0 bits (SDM Vol. 3, 2.5) as far as KVM_SET_SREGS checks them (<c>kvm_is_valid_cr0</c>).</summary>
public static class Cr0
{
    /// <summary>PE, protection enable.</summary>
    public const ulong Pe = 1ul << 0;

    /// <summary>EM, emulation (no x87).</summary>
    public const ulong Em = 1ul << 2;

    /// <summary>TS, task switched.</summary>
    public const ulong Ts = 1ul << 3;

    /// <summary>ET, extension type (always 1 on modern processors).</summary>
    public const ulong Et = 1ul << 4;

    /// <summary>WP, write protect (<c>kvm_set_cr0</c> and <c>kvm_set_cr4</c> keep it set while CR4.CET is, 6.18).</summary>
    public const ulong Wp = 1ul << 16;

    /// <summary>NW, not write-through.</summary>
    public const ulong Nw = 1ul << 29;

    /// <summary>CD, cache disable.</summary>
    public const ulong Cd = 1ul << 30;

    /// <summary>PG, paging.</summary>
    public const ulong Pg = 1ul << 31;

    /// <summary>CR0 at RESET: CD, NW and ET (<c>kvm_vcpu_reset(vcpu, false)</c>).</summary>
    public const ulong AtReset = Cd | Nw | Et;

    /// <summary>
    /// <c>kvm_is_valid_cr0</c>: no bit above 31 (64-bit KVM), NW only with CD, PG only with PE. (The vendor check,
    /// PE and PG without unrestricted guest on VMX, is not modelled.)
    /// </summary>
    public static bool IsValid(ulong cr0) =>
        (cr0 >> 32) == 0 && ((cr0 & Nw) == 0 || (cr0 & Cd) != 0) && ((cr0 & Pg) == 0 || (cr0 & Pe) != 0);

    /// <summary>CR0 in SMM: PE, EM, TS and PG cleared, the rest kept (<c>enter_smm</c>).</summary>
    public static ulong AtSmmEntry(ulong cr0) => cr0 & ~(Pe | Em | Ts | Pg);

    /// <summary>CR0 after INIT: ET, and CD and NW kept (<c>kvm_vcpu_reset(vcpu, true)</c>).</summary>
    public static ulong AfterInit(ulong cr0) => Et | (cr0 & (Cd | Nw));
}
