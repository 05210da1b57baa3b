namespace CpuidFunctional.Core.Cpuid;

/// <summary>What <c>kvm_cpuid()</c> returns: four registers and whether an exact entry was found.</summary>
/// <param name="Eax">Output EAX.</param>
/// <param name="Ebx">Output EBX.</param>
/// <param name="Ecx">Output ECX.</param>
/// <param name="Edx">Output EDX.</param>
/// <param name="Exact">An entry matched (function, index) exactly; false for redirected or zero answers.</param>
public readonly record struct CpuidAnswer(uint Eax, uint Ebx, uint Ecx, uint Edx, bool Exact)
{
    /// <summary>One output register.</summary>
    public uint Get(CpuidRegister register) => register switch
    {
        CpuidRegister.Eax => Eax,
        CpuidRegister.Ebx => Ebx,
        CpuidRegister.Ecx => Ecx,
        _ => Edx,
    };
}
