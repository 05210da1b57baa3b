using CpuidFunctional.Interpreter.Machine;

namespace CpuidFunctional.Interpreter.Execution;

/// <summary>
/// What one run accumulates: a builder local to <see cref="Runner.Run"/>, frozen into the <see cref="RunResult"/> at
/// the end (the logs are appended to during the run and never shared). Steps add to it in two ways: a Core event
/// applied (<see cref="Apply"/>) and a fault the interpreter raises (<see cref="Raise"/>).
/// </summary>
internal sealed class RunLog(Policy policy)
{
    public Policy Policy { get; } = policy;

    public DictionaryLog<VcpuEvent> Trace { get; } = new();

    public DictionaryLog<RunObservation> Observations { get; } = new();

    public SegmentedLog<PortOutput> Outputs { get; } = new();

    /// <summary>Value-equal Core events and observations reused within the run.</summary>
    public EventCache Events { get; } = new();

    /// <summary>Value-equal vmcs12 versions reused within the run.</summary>
    public VmcsVersions Vmcs { get; } = new();

    /// <summary>Value-equal guest memory versions reused within the run.</summary>
    public MemoryVersions MemoryVersions { get; } = new();

    /// <summary>vmcb12 records VMRUN read from a memory version and page it reads again.</summary>
    public Vmcb12Reads Vmcb12Reads { get; } = new();

    // Mutable: the vmcs12 chunk spine (Vmcs12.ChunkIdentity) and static guest capabilities whose VM-entry control and
    // host-state checks last passed; replaced after each full check. Those checks read nothing else, and the spine
    // is immutable (a write that changes a chunked field makes a new one), so an equal key means an equal result.
    public (object? Chunks, GuestCaps Guest) CheckedEntry { get; set; }

    // Summed over the run's Kvm.Step calls.
    public Effort Effort { get; set; }

    /// <summary>Applies a Core event with the run's policy to the working copy, logs it and any observation, and returns the observation.</summary>
    public Observation? Apply(ref Cpu c, VcpuEvent e, ulong rip, int level)
    {
        var t = Kvm.Step(Policy, c.Kvm, e);
        Trace.Add(e);
        Effort += t.Effort;
        c.Kvm = t.State;
        if (t.Observation is { } o)
        {
            Observations.Add(Events.Observed(level, rip, o));
        }
        return t.Observation;
    }

    /// <summary>
    /// A fault the interpreter raises itself: logged, and returned as the step's stop. The stepper delivers it: to L1
    /// if it happened in L2 and L1 wants it (<see cref="VmxReflect.L1WantsException"/>); otherwise, with no IDT to
    /// deliver through, the run stops.
    /// </summary>
    public StopReason.UnhandledFault Raise(in Cpu c, Insn i, X86Exception vector)
    {
        Observations.Add(new RunObservation.Fault(c.Level, i.Rip, vector));
        return new StopReason.UnhandledFault(c.Level, i.Rip, vector);
    }
}
