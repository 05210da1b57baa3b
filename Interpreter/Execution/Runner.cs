using System.Collections.Immutable;
using CpuidFunctional.Core.Cpuid;

namespace CpuidFunctional.Interpreter.Execution;

// Inside the namespace, so that Machine is the type and not the sibling namespace CpuidFunctional.Interpreter.Machine.
using CpuidFunctional.Interpreter.Machine;

/// <summary>
/// Runs a machine: fetch through the decode cache, execute, repeat, until HLT at L1, a stop condition or the step
/// limit. The loop's working copy of the machine (<see cref="Cpu"/>) is the only thing that changes; the snapshot it
/// starts from and the one it returns are immutable, and so is everything the working copy points to.
/// </summary>
public static class Runner
{
    /// <summary>
    /// Runs <paramref name="machine"/> under <paramref name="policy"/> for at most <paramref name="maxSteps"/>
    /// instructions. A machine that has not run yet first gets the VMM's KVM_SET_SREGS (CR4 =
    /// <see cref="MachineLayout.InitialCr4"/>) and KVM_RUN. Pass a <paramref name="cache"/> to share decoded
    /// instructions between runs (single-threaded use only); by default each run has its own.
    /// </summary>
    public static RunResult Run(Policy policy, Machine machine, long maxSteps, DecodeCache? cache = null)
    {
        cache ??= new DecodeCache();
        var log = new RunLog(policy);
        var c = Cpu.From(machine);
        var stop = c.Started ? null : Start(ref c, log);
        var steps = 0L;
        while (stop is null)
        {
            if (steps >= maxSteps)
            {
                stop = new StopReason.StepLimit(steps);
                break;
            }
            var insn = cache.Fetch(c.Memory, c.Rip);
            if (insn is null)
            {
                stop = new StopReason.OutsideMemory(c.Level, c.Rip, c.Rip);
                break;
            }
            steps++;
            stop = Executor.Step(ref c, insn, log);
        }
        return new RunResult(
            log.Trace.ToDictionaryArray(),
            log.Observations.ToDictionaryArray(),
            log.Outputs.ToValueArray(),
            stop,
            steps,
            log.Effort,
            c.Snapshot()
        );
    }

    /// <summary>
    /// The VMM's set-up before the first KVM_RUN: KVM_SET_SREGS with the documented CR0, CR4 and EFER (64-bit mode) and
    /// the current APIC base.
    /// </summary>
    private static StopReason? Start(ref Cpu c, RunLog log)
    {
        var setSregs = new VcpuEvent.SetSregs(MachineLayout.InitialCr4, c.Kvm.Vcpu.ApicBase) { Cr0 = c.Cr0, Efer = c.Efer };
        var sregs = log.Apply(ref c, setSregs, 0, 0);
        if (sregs is Observation.IoctlError)
        {
            return new StopReason.BootFailed(sregs);
        }
        log.Apply(ref c, new VcpuEvent.Run(), 0, 0);
        c.Started = true;
        return null;
    }

    /// <summary>Runs one machine per policy (built by <paramref name="boot"/>) and compares their behaviour.</summary>
    public static PolicyAgreement RunAll(IReadOnlyList<Policy> policies, Func<Policy, Machine> boot, long maxSteps)
    {
        var runs = ImmutableArray.CreateBuilder<(Policy Policy, RunResult Result)>(policies.Count);
        string? difference = null;
        foreach (var policy in policies)
        {
            var result = Run(policy, boot(policy), maxSteps);
            if (difference is null && runs.Count > 0 && runs[0].Result.FirstDifference(result) is { } d)
            {
                difference = $"{runs[0].Policy} vs {policy}: {d}";
            }
            runs.Add((policy, result));
        }
        return new PolicyAgreement(runs.MoveToImmutable(), difference);
    }

    /// <summary>
    /// Runs <paramref name="program"/> under every policy of <see cref="Policy.Correct"/> (Eager, Lazy, Reference), each
    /// on a fresh vCPU of <paramref name="vm"/> with <paramref name="cpuid"/> set by KVM_SET_CPUID2, and compares them.
    /// </summary>
    public static PolicyAgreement RunCorrect(Program program, Vm vm, CpuidTable cpuid, long maxSteps) =>
        RunAll(Policy.Correct, p => Machine.Boot(program, KvmState.WithCpuid(vm, p, cpuid)), maxSteps);
}
