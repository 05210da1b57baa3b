namespace CpuidFunctional.Core.State;

/// <summary>IA32_XSS (0xDA0) bits the model uses: supervisor XSAVE components (SDM vol. 1, 13.1).</summary>
public static class Xss
{
    /// <summary>Component 8, Intel PT.</summary>
    public const ulong Pt = 1ul << 8;

    /// <summary>Component 11, CET user state.</summary>
    public const ulong CetUser = 1ul << 11;

    /// <summary>Component 12, CET supervisor state.</summary>
    public const ulong CetKernel = 1ul << 12;

    /// <summary><c>XFEATURE_MASK_CET_ALL</c>: both CET components, which KVM supports together or not at all.</summary>
    public const ulong CetAll = CetUser | CetKernel;
}
