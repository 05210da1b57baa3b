namespace CpuidFunctional.Interpreter.Execution;

/// <summary>
/// What L0 decides about an instruction or an exception in L2 before any handler runs (KVM's
/// <c>nested_vmx_reflect_vmexit</c>): handle it here, make it a VM exit to L1, or let the instruction fault first.
/// Made by <see cref="VmxReflect"/>; acted on only by the stepper (<see cref="Executor.Step"/>). A closed union.
/// </summary>
internal abstract record Reflection
{
    private Reflection() { }

    /// <summary>
    /// L0 handles it: the instruction's handler runs in L2; an exception is delivered in L2 (no IDT is modelled, so
    /// the run stops).
    /// </summary>
    public sealed record HandleHere : Reflection
    {
        private HandleHere() { }

        /// <summary>The one value (the case carries nothing).</summary>
        public static HandleHere Instance { get; } = new();
    }

    /// <summary>A VM exit to L1 instead of the instruction or exception: the basic exit reason and the exit information for vmcs12.</summary>
    public sealed record ExitToL1(uint Reason, ulong Qualification = 0, uint InterruptionInfo = 0) : Reflection;

    /// <summary>
    /// The instruction faults before it can exit (SDM Vol. 3, 26.1.1: such faults have priority over VM exits); the
    /// exception then goes through <see cref="VmxReflect.L1WantsException"/> like any other.
    /// </summary>
    public sealed record Fault(X86Exception Vector) : Reflection;
}
