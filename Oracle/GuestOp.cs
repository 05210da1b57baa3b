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

    /// <summary>
    /// RSM. In SMM the real-mode interpreter first rewrites the record's op to <see cref="Nop"/>: RSM returns to the
    /// interpreter the SMI interrupted, right after its OUT, which then reads Nop and ends the command. Outside SMM
    /// RSM is #UD (<c>em_rsm</c>), at CPL0 and CPL3 alike.
    /// </summary>
    Rsm = 7,

    /// <summary>
    /// MONITOR on the command record's address (ECX = EDX = 0), then MWAIT (EAX = ECX = 0). Where KVM emulates them
    /// as NOPs (<c>kvm_emulate_monitor_mwait</c>) both complete; a #UD ends the command at MONITOR. Above CPL0 the
    /// processor raises #UD before any intercept.
    /// </summary>
    MonitorMwait = 8,
}
