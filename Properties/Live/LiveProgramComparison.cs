using CpuidFunctional.Interpreter.Machine;
using CpuidFunctional.Oracle;
using CpuidFunctional.Properties.Interpreter;

namespace CpuidFunctional.Properties.Live;

/// <summary>How a program run ended, in the terms both the interpreter and the kernel can state. A closed union.</summary>
public abstract record FinalStop
{
    private FinalStop() { }

    /// <summary>L1's HLT at this address.</summary>
    public sealed record Halted(ulong HltRip) : FinalStop
    {
        /// <inheritdoc/>
        public override string ToString() => $"HLT at 0x{HltRip:x}";
    }

    /// <summary>A triple fault nobody intercepted: the vCPU shuts down (the programs have no IDT).</summary>
    public sealed record Shutdown : FinalStop
    {
        /// <inheritdoc/>
        public override string ToString() => "shutdown";
    }

    /// <summary>Anything else, described; it never equals the other side's.</summary>
    public sealed record Other(string Side, string What) : FinalStop
    {
        /// <inheritdoc/>
        public override string ToString() => $"{Side}: {What}";
    }

    /// <summary>
    /// The interpreter's stop: HLT; a fault L1 cannot deliver (no IDT) is a triple fault, and so is a VMX abort
    /// (<c>nested_vmx_abort</c> requests one); an L2 fault nobody intercepts stops the interpreter, unlike KVM.
    /// </summary>
    public static FinalStop Of(StopReason stop) => stop switch
    {
        StopReason.Halted h => new Halted(h.Rip),
        StopReason.UnhandledFault { Level: 1 } or StopReason.VmxAbort => new Shutdown(),
        _ => new Other("interpreter", stop.ToString()),
    };

    /// <summary>The kernel's stop: KVM_EXIT_HLT reports the RIP after the one-byte HLT; KVM_EXIT_SHUTDOWN.</summary>
    public static FinalStop Of(LiveStop stop) => stop switch
    {
        LiveStop.Halted h => new Halted(h.RipAfter - 1),
        LiveStop.Shutdown => new Shutdown(),
        _ => new Other("kernel", stop.ToString()),
    };
}

/// <summary>
/// One program on both sides: the interpreter's OUTs (without the level, which the host cannot see) and stop under
/// Eager, and the kernel's. Every OUT position and the stop are observations; they agree when equal.
/// </summary>
/// <param name="Program">The build's name.</param>
/// <param name="Model">The interpreter's OUTs.</param>
/// <param name="ModelStop">How the interpreter's run ended.</param>
/// <param name="Live">The kernel's OUTs.</param>
/// <param name="LiveStop">How the kernel's run ended.</param>
public sealed record ProgramComparison(string Program, ValueArray<LiveOutput> Model, FinalStop ModelStop, ValueArray<LiveOutput> Live, FinalStop LiveStop)
{
    /// <summary>OUT positions on either side, plus the stop.</summary>
    public int Compared => Math.Max(Model.Count, Live.Count) + 1;

    /// <summary>Each observation that differs, as "what: model …, kernel …".</summary>
    public ValueArray<string> Differences
    {
        get
        {
            var differences = System.Collections.Immutable.ImmutableArray.CreateBuilder<string>();
            for (var i = 0; i < Compared - 1; i++)
            {
                var model = i < Model.Count ? Model[i].ToString() : "nothing";
                var live = i < Live.Count ? Live[i].ToString() : "nothing";
                if (model != live)
                {
                    differences.Add($"OUT {i}: model {model}, kernel {live}");
                }
            }
            if (ModelStop != LiveStop)
            {
                differences.Add($"stop: model {ModelStop}, kernel {LiveStop}");
            }
            return differences.ToImmutable();
        }
    }

    /// <summary>The report line, e.g. "svm-l1-toggle.asm: 21 compared, 21 agree, 0 differ".</summary>
    public string Summary
    {
        get
        {
            var differ = Differences.Count;
            return $"{Program}: {Compared} compared, {Compared - differ} agree, {differ} differ";
        }
    }

    /// <summary>Both sides in full, for a failure message.</summary>
    public string Details =>
        $"{Summary}\n  model:  {string.Join(", ", Model)}; {ModelStop}\n  kernel: {string.Join(", ", Live)}; {LiveStop}\n  "
        + string.Join("\n  ", Differences);
}

/// <summary>Runs a program build on the live kernel and in the interpreter, on the same machine contract and CPUID.</summary>
internal static class LiveProgramComparison
{
    /// <summary>The interpreter's step limit; the programs take a few hundred steps.</summary>
    public const long MaxSteps = 1_000_000;

    /// <summary>The interpreter's machine contract (<see cref="MachineLayout"/>) for the live runner.</summary>
    public static ProgramMachine Contract { get; } = new(
        MachineLayout.LoadAddress,
        MachineLayout.MemorySize,
        MachineLayout.InitialCr0,
        MachineLayout.InitialCr4,
        MachineLayout.InitialEfer,
        MachineLayout.InitialRsp,
        MachineLayout.InitialRflags
    );

    /// <summary>
    /// The build on the kernel (guest CPUID = its KVM_GET_SUPPORTED_CPUID) and in the interpreter under Eager with the
    /// kernel as host, on the kernel's profile.
    /// </summary>
    public static ProgramComparison Run(KvmSystem kvm, ProgramBuild build, KernelProfile profile)
    {
        var table = LiveKernel.Supported(kvm);
        var image = LivePrograms.Image(build);
        var vm = new Vm(LiveKernel.Host(kvm), profile);
        var model = Runner.Run(Policy.Eager, Machine.Boot(TestMachine.FromBytes(image), KvmState.WithCpuid(vm, Policy.Eager, table)), MaxSteps);
        var live = LiveProgram.Run(kvm, table, Contract, image);
        return new ProgramComparison(
            build.Name,
            System.Collections.Immutable.ImmutableArray.CreateRange(model.Outputs.Select(o => new LiveOutput(o.Port, o.Value, o.Size))),
            FinalStop.Of(model.Stop),
            live.Outputs,
            FinalStop.Of(live.Stop)
        );
    }
}
