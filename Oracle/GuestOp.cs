namespace CpuidFunctional.Oracle;

/// <summary>The operations of the guest command interpreter.</summary>
public enum GuestOp : uint
{
    /// <summary>Nothing: the run just goes to the OUT (a plain KVM_RUN).</summary>
    Nop = 0,

    /// <summary>CPUID with EAX = a, ECX = b; results in EAX..EDX.</summary>
    Cpuid = 1,

    /// <summary>MOV CR4, a; then CR4 is read back into EAX.</summary>
    MovToCr4 = 2,

    /// <summary>XSETBV with ECX = c, EDX:EAX = b:a.</summary>
    Xsetbv = 3,

    /// <summary>WRMSR with ECX = c, EDX:EAX = b:a.</summary>
    Wrmsr = 5,

    /// <summary>RDMSR with ECX = c; results in EAX and EDX.</summary>
    Rdmsr = 6,
}
