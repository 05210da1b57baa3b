using BenchmarkDotNet.Attributes;
using CpuidFunctional.Bench.Measurement;
using CpuidFunctional.Interpreter.Machine;

namespace CpuidFunctional.Bench.Benchmarks;

/// <summary>
/// The pieces a functional round trip is made of, to show where its time and bytes go: one machine snapshot
/// rewrite, a vmcs12 read and write, the CR4 validity check (a CPUID table walk), a decode-cache fetch, and the Core
/// events of an exit and an entry.
/// </summary>
[MemoryDiagnoser]
[JsonExporterAttribute.Full]
public class InterpreterPieceBenchmarks
{
    private Machine machine;
    private Vmcs12 vmcs = null!;
    private Vcpu vcpu = null!;
    private DecodeCache cache = null!;
    private const ulong L2Cr4 = MachineLayout.InitialCr4 | Cr4.Vmxe;
    private ulong counter;

    /// <summary>A machine in L1 after the cpuid-loop set-up.</summary>
    [GlobalSetup]
    public void Setup()
    {
        var experiment = new Experiment("cpuid-loop", HostPresets.SkylakeSp, 1, new DecodeCache());
        cache = experiment.Cache;
        machine = Runner.Run(Policy.Lazy, experiment.BootFunctional(Policy.Lazy), experiment.StepBudget, cache).Final;
        vmcs = machine.Vmx.Current;
        vcpu = machine.Kvm.Vcpu;
    }

    /// <summary>The machine rewrite every plain instruction does (<c>m = m with { Regs = m.Regs.WithRip(...) }</c>).</summary>
    [Benchmark]
    public ulong MachineWithRip()
    {
        machine = machine with { Regs = machine.Regs.WithRip(machine.Regs.Rip + 1) };
        return machine.Regs.Rip;
    }

    /// <summary>A register write: a new register file and a new machine.</summary>
    [Benchmark]
    public ulong MachineWithRegister()
    {
        machine = machine with { Regs = machine.Regs.With(Registers.Rax, ++counter, machine.Regs.Rip) };
        return machine.Regs[Registers.Rax];
    }

    /// <summary>VMREAD of GUEST_RIP through the machine (<c>m.Vmx.Read(field)</c>).</summary>
    [Benchmark]
    public ulong VmcsReadThroughMachine() => machine.Vmx.Read(VmcsField.GuestRip);

    /// <summary>VMWRITE of GUEST_RIP: one chunk copied.</summary>
    [Benchmark]
    public Vmcs12 VmcsWrite() => vmcs = vmcs.Write(VmcsField.GuestRip, ++counter);

    /// <summary><c>kvm_is_valid_cr4</c> (each VM entry checks HOST_CR4 and GUEST_CR4).</summary>
    [Benchmark]
    public bool IsValidCr4() => Kvm.IsValidCr4(vcpu, Cr4.Pae | Cr4.Vmxe | Cr4.OsXsave | Cr4.Pke);

    /// <summary>A decode-cache hit.</summary>
    [Benchmark]
    public object? Fetch() => cache.Fetch(machine.Memory, MachineLayout.LoadAddress);

    /// <summary>The Core events of one round trip of cpuid-loop under Lazy (exit then entry, CR4 differing).</summary>
    [Benchmark(OperationsPerInvoke = 2)]
    public KvmState CoreExitAndEntry()
    {
        var s = Kvm.Step(Policy.Lazy, machine.Kvm, new VcpuEvent.NestedVmExit(L2Cr4 | Cr4.OsXsave | Cr4.Pke)).State;
        return Kvm.Step(Policy.Lazy, s, new VcpuEvent.NestedVmEntry(L2Cr4)).State;
    }
}
