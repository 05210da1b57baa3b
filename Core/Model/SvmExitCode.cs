namespace CpuidFunctional.Core.Model;

/// <summary>
/// SVM #VMEXIT codes (AMD APM Vol. 2, appendix C; KVM's <c>SVM_EXIT_*</c>) the model and the interpreter use. The exit
/// code is a 64-bit field; VMEXIT_INVALID is −1.
/// </summary>
public static class SvmExitCode
{
    /// <summary>SVM_EXIT_READ_CR0: MOV from CR0 intercepted; a read of CRn is this plus n.</summary>
    public const ulong ReadCr0 = 0x00;

    /// <summary>SVM_EXIT_READ_CR4: MOV from CR4 intercepted.</summary>
    public const ulong ReadCr4 = 0x04;

    /// <summary>SVM_EXIT_WRITE_CR0: MOV to CR0 intercepted; a write to CRn is this plus n.</summary>
    public const ulong WriteCr0 = 0x10;

    /// <summary>SVM_EXIT_CR0_SEL_WRITE: a MOV to CR0 that changes a bit other than TS and MP, under the selective CR0 intercept.</summary>
    public const ulong Cr0SelectiveWrite = 0x65;

    /// <summary>SVM_EXIT_WRITE_CR4: MOV to CR4 intercepted (<c>INTERCEPT_CR4_WRITE</c>).</summary>
    public const ulong WriteCr4 = 0x14;

    /// <summary>SVM_EXIT_EXCP_BASE: an intercepted exception is this plus its vector.</summary>
    public const ulong ExceptionBase = 0x40;

    /// <summary>SVM_EXIT_CPUID.</summary>
    public const ulong Cpuid = 0x72;

    /// <summary>SVM_EXIT_HLT.</summary>
    public const ulong Hlt = 0x78;

    /// <summary>SVM_EXIT_IOIO.</summary>
    public const ulong Ioio = 0x7B;

    /// <summary>SVM_EXIT_MSR (EXITINFO1: 0 for RDMSR, 1 for WRMSR).</summary>
    public const ulong Msr = 0x7C;

    /// <summary>SVM_EXIT_SHUTDOWN.</summary>
    public const ulong Shutdown = 0x7F;

    /// <summary>SVM_EXIT_VMRUN.</summary>
    public const ulong Vmrun = 0x80;

    /// <summary>SVM_EXIT_VMMCALL.</summary>
    public const ulong Vmmcall = 0x81;

    /// <summary>SVM_EXIT_VMLOAD.</summary>
    public const ulong Vmload = 0x82;

    /// <summary>SVM_EXIT_VMSAVE.</summary>
    public const ulong Vmsave = 0x83;

    /// <summary>SVM_EXIT_STGI.</summary>
    public const ulong Stgi = 0x84;

    /// <summary>SVM_EXIT_CLGI.</summary>
    public const ulong Clgi = 0x85;

    /// <summary>SVM_EXIT_XSETBV.</summary>
    public const ulong Xsetbv = 0x8D;

    /// <summary>SVM_EXIT_ERR (VMEXIT_INVALID): VMRUN's consistency checks failed; L1 continues after its VMRUN.</summary>
    public const ulong Invalid = ulong.MaxValue;

    /// <summary>The KVM name of an exit code, or its hex value.</summary>
    public static string Name(ulong code) => code switch
    {
        ReadCr0 => "SVM_EXIT_READ_CR0",
        ReadCr4 => "SVM_EXIT_READ_CR4",
        WriteCr0 => "SVM_EXIT_WRITE_CR0",
        WriteCr4 => "SVM_EXIT_WRITE_CR4",
        Cr0SelectiveWrite => "SVM_EXIT_CR0_SEL_WRITE",
        Cpuid => "SVM_EXIT_CPUID",
        Hlt => "SVM_EXIT_HLT",
        Ioio => "SVM_EXIT_IOIO",
        Msr => "SVM_EXIT_MSR",
        Shutdown => "SVM_EXIT_SHUTDOWN",
        Vmrun => "SVM_EXIT_VMRUN",
        Vmmcall => "SVM_EXIT_VMMCALL",
        Vmload => "SVM_EXIT_VMLOAD",
        Vmsave => "SVM_EXIT_VMSAVE",
        Stgi => "SVM_EXIT_STGI",
        Clgi => "SVM_EXIT_CLGI",
        Xsetbv => "SVM_EXIT_XSETBV",
        Invalid => "SVM_EXIT_ERR",
        >= ExceptionBase and < ExceptionBase + 32 => $"SVM_EXIT_EXCP_BASE+{code - ExceptionBase}",
        _ => $"0x{code:x}",
    };
}
