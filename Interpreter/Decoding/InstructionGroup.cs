namespace CpuidFunctional.Interpreter.Decoding;

/// <summary>
/// Which handler family an <see cref="Op"/> belongs to, written once for both step functions (the interpreter's and
/// the mutable baseline's): the system instructions L0 intercepts or emulates, and the VMX instructions (the SDM's VMX
/// instruction reference, VMCALL included). Every other op is a data or control-flow instruction.
/// </summary>
internal static class InstructionGroup
{
    /// <summary>PAUSE, CPUID, XGETBV/XSETBV, RDMSR/WRMSR, MOV to/from CR, HLT, IN/OUT, RDPKRU/WRPKRU.</summary>
    public static bool IsSystemInstruction(this Op op) =>
        op is Op.Pause or Op.Cpuid or Op.Xgetbv or Op.Xsetbv or Op.Rdmsr or Op.Wrmsr or Op.MovToCr or Op.MovFromCr
            or Op.Hlt or Op.Out or Op.In or Op.Rdpkru or Op.Wrpkru;

    /// <summary>VMXON, VMXOFF, VMCLEAR, VMPTRLD, VMPTRST, VMREAD, VMWRITE, VMLAUNCH, VMRESUME and VMCALL.</summary>
    public static bool IsVmxInstruction(this Op op) =>
        op is Op.Vmxon or Op.Vmxoff or Op.Vmclear or Op.Vmptrld or Op.Vmptrst or Op.Vmread or Op.Vmwrite
            or Op.Vmlaunch or Op.Vmresume or Op.Vmcall;

    /// <summary>VMRUN, VMLOAD, VMSAVE, VMMCALL, STGI and CLGI.</summary>
    public static bool IsSvmInstruction(this Op op) =>
        op is Op.Vmrun or Op.Vmload or Op.Vmsave or Op.Vmmcall or Op.Stgi or Op.Clgi;
}
