using System.Globalization;

namespace CpuidFunctional.Interpreter.Execution;

/// <summary>
/// Something a run made visible, in order: Core's observations (CPUID answers, MSR values, faults, VM-entry MSR-load
/// failures) and the interpreter's own (VMfail results, interpreter-raised faults, VM-entry failures). Two policies
/// agree on a program when these streams are equal. A closed union.
/// </summary>
public abstract record RunObservation
{
    private RunObservation() { }

    private static string Hex(ulong v) => "0x" + v.ToString("x", CultureInfo.InvariantCulture);

    /// <summary>Where it happened.</summary>
    public abstract ulong Rip { get; }

    /// <summary>An observation from <see cref="Core.Model.Kvm.Step"/>.</summary>
    public sealed record Kvm(int Level, ulong Rip, Observation Value) : RunObservation
    {
        /// <inheritdoc/>
        public override ulong Rip { get; } = Rip;

        /// <inheritdoc/>
        public override string ToString() => $"L{Level} {Hex(Rip)}: {Value}";
    }

    /// <summary>A VMX instruction failed: VMfailInvalid (no error number) or VMfailValid with its error.</summary>
    public sealed record VmFail(ulong Rip, string Instruction, VmInstructionError? Error) : RunObservation
    {
        /// <inheritdoc/>
        public override ulong Rip { get; } = Rip;

        /// <inheritdoc/>
        public override string ToString() =>
            Error is { } e ? $"L1 {Hex(Rip)}: {Instruction} VMfailValid({(int)e} {e})" : $"L1 {Hex(Rip)}: {Instruction} VMfailInvalid";
    }

    /// <summary>A fault the interpreter raised itself (not through Core): #UD, #GP of non-Core rules.</summary>
    public sealed record Fault(int Level, ulong Rip, X86Exception Vector) : RunObservation
    {
        /// <inheritdoc/>
        public override ulong Rip { get; } = Rip;

        /// <inheritdoc/>
        public override string ToString() => $"L{Level} {Hex(Rip)}: #{Vector}";
    }

    /// <summary>VMRUN found vmcb12 invalid (<c>nested_vmcb_check_save</c>/<c>_controls</c>): exit code VMEXIT_INVALID in vmcb12, L1 continues after VMRUN.</summary>
    public sealed record SvmVmrunInvalid(ulong Rip) : RunObservation
    {
        /// <inheritdoc/>
        public override ulong Rip { get; } = Rip;

        /// <inheritdoc/>
        public override string ToString() => $"L1 {Hex(Rip)}: VMRUN: VMEXIT_INVALID";
    }

    /// <summary>VMLAUNCH/VMRESUME failed after the VMfail checks: L1 resumes at HOST_RIP with this exit reason.</summary>
    public sealed record VmEntryFailed(ulong Rip, uint ExitReason, ulong Qualification) : RunObservation
    {
        /// <inheritdoc/>
        public override ulong Rip { get; } = Rip;

        /// <inheritdoc/>
        public override string ToString() => $"L1 {Hex(Rip)}: VM-entry failure, exit reason {Hex(ExitReason)}, qualification {Qualification}";
    }
}
