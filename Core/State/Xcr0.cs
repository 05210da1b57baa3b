namespace CpuidFunctional.Core.State;

/// <summary>
/// XCR0 (XFEATURE_ENABLED_MASK) bits the model uses, by XSAVE component (SDM vol. 1, 13.1), and the architectural
/// rules <c>__kvm_set_xcr</c> checks.
/// </summary>
public static class Xcr0
{
    /// <summary>Component 0, x87: always set.</summary>
    public const ulong Fp = 1ul << 0;

    /// <summary>Component 1, SSE.</summary>
    public const ulong Sse = 1ul << 1;

    /// <summary>Component 2, AVX (YMM upper halves).</summary>
    public const ulong Ymm = 1ul << 2;

    /// <summary>Component 3, MPX bound registers.</summary>
    public const ulong Bndregs = 1ul << 3;

    /// <summary>Component 4, MPX bound config and status.</summary>
    public const ulong Bndcsr = 1ul << 4;

    /// <summary>Components 5–7, AVX-512: opmask, ZMM_Hi256, Hi16_ZMM.</summary>
    public const ulong Avx512 = 0x7ul << 5;

    /// <summary>Component 9, PKRU.</summary>
    public const ulong Pkru = 1ul << 9;

    /// <summary>Component 17, AMX tile configuration (XTILECFG).</summary>
    public const ulong XtileCfg = 1ul << 17;

    /// <summary>
    /// Component 18, AMX tile data (XTILEDATA): the one dynamic user feature (<c>XFEATURE_MASK_USER_DYNAMIC</c>), which
    /// a process may use, or give a guest, only after asking the kernel for it (<c>ARCH_REQ_XCOMP_GUEST_PERM</c>).
    /// </summary>
    public const ulong XtileData = 1ul << 18;

    /// <summary>Components 17–18, AMX: XTILECFG and XTILEDATA.</summary>
    public const ulong Xtile = XtileCfg | XtileData;

    /// <summary><c>XFEATURE_MASK_EXTEND</c>: every bit except x87, SSE and bit 63; a change here is a dynamic-CPUID trigger.</summary>
    public const ulong MaskExtend = ~(Fp | Sse | (1ul << 63));

    /// <summary><c>KVM_MAX_XCRS</c>: the entries a <c>struct kvm_xcrs</c> holds; KVM_SET_XCRS with more is EINVAL.</summary>
    public const int KvmMaxXcrs = 16;

    /// <summary>
    /// <c>kvm_vcpu_ioctl_x86_set_xcrs</c>'s shape check, after the host's XSAVE: at most <see cref="KvmMaxXcrs"/>
    /// entries and no flags; otherwise EINVAL before any entry is looked at.
    /// </summary>
    public static bool IsValidSetXcrsShape(int count, uint flags) => count <= KvmMaxXcrs && flags == 0;

    /// <summary>
    /// The value KVM_SET_XCRS gives <c>__kvm_set_xcr</c>: that of the first XCR0 entry (KVM stops at it; a later XCR0
    /// entry and every entry for another XCR are ignored). Null where there is none: KVM_SET_XCRS then returns 0 and
    /// sets nothing.
    /// </summary>
    public static ulong? FirstSetXcrsEntry(ValueArray<XcrEntry> xcrs)
    {
        foreach (var entry in xcrs.Items)
        {
            if (entry.Xcr == 0)
            {
                return entry.Value;
            }
        }
        return null;
    }

    /// <summary>
    /// The value checks of <c>__kvm_set_xcr</c> for XCR0 (XCR index 0): x87 set; nothing outside what the guest
    /// supports (x87 always counts as supported); YMM needs SSE; MPX's two components together; AVX-512 needs YMM and
    /// all three of its components; AMX's two components together.
    /// </summary>
    public static bool IsValid(ulong xcr0, ulong guestSupported) =>
        (xcr0 & Fp) != 0
        && ((xcr0 & Ymm) == 0 || (xcr0 & Sse) != 0)
        && (xcr0 & ~(guestSupported | Fp)) == 0
        && ((xcr0 & Bndregs) == 0) == ((xcr0 & Bndcsr) == 0)
        && ((xcr0 & Avx512) == 0 || ((xcr0 & Ymm) != 0 && (xcr0 & Avx512) == Avx512))
        && ((xcr0 & Xtile) == 0 || (xcr0 & Xtile) == Xtile);
}
