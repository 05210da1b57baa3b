using System.Globalization;

namespace CpuidFunctional.Interpreter.Execution;

/// <summary>Why a run ended. A closed union.</summary>
public abstract record StopReason
{
    private StopReason() { }

    private static string Hex(ulong v) => "0x" + v.ToString("x", CultureInfo.InvariantCulture);

    /// <summary>L1 executed HLT: the normal end of a program.</summary>
    public sealed record Halted(ulong Rip) : StopReason
    {
        /// <inheritdoc/>
        public override string ToString() => $"HLT at {Hex(Rip)}";
    }

    /// <summary>The step limit was reached.</summary>
    public sealed record StepLimit(long Steps) : StopReason
    {
        /// <inheritdoc/>
        public override string ToString() => $"step limit of {Steps} instructions reached";
    }

    /// <summary>An instruction (or a use of one) the interpreter does not model.</summary>
    public sealed record Unsupported(int Level, ulong Rip, string Bytes, string Instruction, string Why) : StopReason
    {
        /// <inheritdoc/>
        public override string ToString() => $"unsupported instruction at L{Level} {Hex(Rip)}: {Instruction} [{Bytes}]: {Why}";
    }

    /// <summary>An exception the guest cannot handle (no IDT is modelled; in L2 only the exception bitmap reflects it to L1).</summary>
    public sealed record UnhandledFault(int Level, ulong Rip, X86Exception Vector) : StopReason
    {
        /// <inheritdoc/>
        public override string ToString() => $"unhandled #{Vector} at L{Level} {Hex(Rip)}";
    }

    /// <summary>
    /// L2 halted where nothing can wake it: it executed HLT without HLT exiting, or VM entry put it in the HLT activity
    /// state (at GUEST_RIP).
    /// </summary>
    public sealed record L2Halted(ulong Rip) : StopReason
    {
        /// <inheritdoc/>
        public override string ToString() => $"L2 halted at {Hex(Rip)}";
    }

    /// <summary>VM entry put L2 in the wait-for-SIPI activity state (at GUEST_RIP); the model sends no SIPI.</summary>
    public sealed record L2WaitingForSipi(ulong Rip) : StopReason
    {
        /// <inheritdoc/>
        public override string ToString() => $"L2 waits for a SIPI at {Hex(Rip)}";
    }

    /// <summary>A VMX abort during VM-exit (the vCPU shuts down).</summary>
    public sealed record VmxAbort(uint Indicator) : StopReason
    {
        /// <inheritdoc/>
        public override string ToString() => $"VMX abort {Indicator}";
    }

    /// <summary>RIP or a data access left guest memory.</summary>
    public sealed record OutsideMemory(int Level, ulong Rip, ulong Address) : StopReason
    {
        /// <inheritdoc/>
        public override string ToString() => $"access to {Hex(Address)} outside guest memory at L{Level} {Hex(Rip)}";
    }

    /// <summary>The VMM's set-up (KVM_SET_SREGS) was refused.</summary>
    public sealed record BootFailed(Observation Why) : StopReason
    {
        /// <inheritdoc/>
        public override string ToString() => $"KVM_SET_SREGS refused: {Why}";
    }
}
