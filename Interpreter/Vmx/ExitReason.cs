namespace CpuidFunctional.Interpreter.Vmx;

/// <summary>Basic VM-exit reasons the interpreter produces (SDM Vol. 3, Appendix C).</summary>
public static class ExitReason
{
#pragma warning disable CS1591 // SDM names; the number is the basic exit reason.
    public const uint ExceptionOrNmi = 0;
    public const uint Cpuid = 10;
    public const uint Hlt = 12;
    public const uint Vmcall = 18;
    public const uint Vmclear = 19;
    public const uint Vmlaunch = 20;
    public const uint Vmptrld = 21;
    public const uint Vmptrst = 22;
    public const uint Vmread = 23;
    public const uint Vmresume = 24;
    public const uint Vmwrite = 25;
    public const uint Vmxoff = 26;
    public const uint Vmxon = 27;
    public const uint CrAccess = 28;
    public const uint IoInstruction = 30;
    public const uint Rdmsr = 31;
    public const uint Wrmsr = 32;
    public const uint InvalidGuestState = 33;
    public const uint MsrLoading = 34;
    public const uint Pause = 40;
    public const uint Xsetbv = 55;
#pragma warning restore CS1591

    /// <summary>Bit 31 of the exit reason: the VM entry failed.</summary>
    public const uint EntryFailure = 0x8000_0000;

    /// <summary>The exit a VMX instruction executed in VMX non-root operation causes (SDM Vol. 3, 26.1.2).</summary>
    internal static uint OfVmxInstruction(Op op) =>
        op switch
        {
            Op.Vmcall => Vmcall,
            Op.Vmclear => Vmclear,
            Op.Vmlaunch => Vmlaunch,
            Op.Vmptrld => Vmptrld,
            Op.Vmptrst => Vmptrst,
            Op.Vmread => Vmread,
            Op.Vmresume => Vmresume,
            Op.Vmwrite => Vmwrite,
            Op.Vmxoff => Vmxoff,
            _ => Vmxon,
        };
}
