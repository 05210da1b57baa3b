using CpuidFunctional.Interpreter.Machine;
using Iced.Intel;

namespace CpuidFunctional.Properties.Interpreter;

/// <summary>
/// A small Skylake-like host and guest CPUID table for interpreter tests (VMX, XSAVE with XSAVEC/XSAVES, PKU,
/// x87|SSE|AVX|PKRU and PT in XSS), and shortcuts to assemble and run programs.
/// </summary>
internal static class TestMachine
{
    public const uint Leaf1Ecx = (1u << 0) | (1u << 5) | (1u << 21) | (1u << 26); // SSE3, VMX, x2APIC, XSAVE
    public const uint Leaf1Edx = (1u << 0) | (1u << 9) | (1u << 25) | (1u << 26); // FPU, APIC, SSE, SSE2

    public static CpuidTable Table { get; } = CpuidTable.Of(
        CpuidEntry.Plain(0, 0xD, Vendor.Intel.Ebx, Vendor.Intel.Ecx, Vendor.Intel.Edx),
        CpuidEntry.Plain(1, 0x50654, 0x0010_0800, Leaf1Ecx, Leaf1Edx),
        CpuidEntry.Indexed(7, 0, 0, (1u << 7) | (1u << 20), 1u << 3, 0), // SMEP, SMAP; PKU
        CpuidEntry.Indexed(0xD, 0, 0x207, 0x240, 0xA88, 0),
        CpuidEntry.Indexed(0xD, 1, 0xF, 0x240, 0x1900, 0),
        CpuidEntry.Indexed(0xD, 2, 0x100, 0x240, 0, 0),
        CpuidEntry.Indexed(0xD, 8, 0x80, 0, 1, 0),
        CpuidEntry.Indexed(0xD, 9, 0x8, 0xA80, 0, 0),
        CpuidEntry.Indexed(0xD, 11, 0x10, 0, 1, 0), // CET user and supervisor state: the IA32_XSS bits 6.18 supports
        CpuidEntry.Indexed(0xD, 12, 0x18, 0, 1, 0),
        CpuidEntry.Plain(0x8000_0000, 0x8000_0001, 0, 0, 0),
        CpuidEntry.Plain(0x8000_0001, 0, 0, 0, 1u << 29) // LM (64-bit guests: EFER.LME and LMA are theirs to keep)
    );

    public static HostCpu Host { get; } = HostCpu.FromCpuid("test-skylake", Table);

    public static Vm Vm { get; } = new(Host, KernelProfile.Linux6_18);

    public static Vm Vm6_15 { get; } = new(Host, KernelProfile.Linux6_15);

    public const long DefaultSteps = 100_000;

    public static Machine Boot(Program program, Policy policy, Vm? vm = null) =>
        Machine.Boot(program, KvmState.WithCpuid(vm ?? Vm, policy, Table));

    public static RunResult Run(Program program, Policy? policy = null, long maxSteps = DefaultSteps, Vm? vm = null)
    {
        var p = policy ?? Policy.Lazy;
        return Runner.Run(p, Boot(program, p, vm), maxSteps);
    }

    /// <summary>Runs under Eager, Lazy and Reference, asserts they agree, returns the Lazy run.</summary>
    public static RunResult RunAgreeing(Program program, long maxSteps = DefaultSteps, Vm? vm = null)
    {
        var agreement = Runner.RunAll(Policy.Correct, p => Boot(program, p, vm), maxSteps);
        Assert.True(agreement.Agree, agreement.FirstDifference);
        return agreement.Runs[1].Result;
    }

    /// <summary>An L1-only program: the body, then HLT.</summary>
    public static Program L1(Action<Assembler> body)
    {
        var a = new Assembler(64);
        body(a);
        a.hlt();
        return RoundTrip.Assemble(a);
    }

    public static Program FromBytes(byte[] bytes) =>
        Program.FromBytes(bytes) switch
        {
            Result<Program>.Ok ok => ok.Value,
            Result<Program>.Error e => throw new InvalidOperationException(e.Problem.ToString()),
            _ => throw new InvalidOperationException(),
        };

    public static string Describe(RunResult r) =>
        $"stop: {r.Stop}\nsteps: {r.Steps}\nobservations:\n  {string.Join("\n  ", r.Observations)}\noutputs: {string.Join(", ", r.Outputs)}\ntrace:\n  {string.Join("\n  ", r.Trace.Take(40))}";
}
