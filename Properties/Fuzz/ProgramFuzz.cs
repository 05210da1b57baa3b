using System.Collections.Immutable;
using CpuidFunctional.Core.Checking;
using CpuidFunctional.Interpreter.Machine;
using CpuidFunctional.Interpreter.Vmx;
using CpuidFunctional.Properties.Interpreter;
using Iced.Intel;

namespace CpuidFunctional.Properties.Fuzz;

/// <summary>How a program case's bytes are run: as the whole image, or as the L2 body of a random VMX set-up.</summary>
internal enum ProgramKind
{
    RandomBytes,
    OpcodeSoup,
    MutatedCorpus,
    VmxSetUp,
}

/// <summary>
/// One interpreter case: the bytes, how they run (<see cref="Setup"/> for an L2 body), the host and kernel, and the
/// guest table installed with KVM_SET_CPUID2 before the run.
/// </summary>
internal sealed record ProgramCase(ProgramKind Kind, ImmutableArray<byte> Bytes, RoundTripSetup? Setup, HostCpu Host, KernelProfile Profile, CpuidTable Table)
{
    public Vm Vm => new(Host, Profile);

    /// <summary>The image to load, or null when the bytes are no program (<see cref="Program.FromBytes"/>'s errors).</summary>
    public Program? Program => Setup is null
        ? Program.FromBytes(Bytes.AsSpan()) is Result<Program>.Ok ok ? ok.Value : null
        : RoundTrip.Build(Setup, RandomProgramProperties.ObservingHandler, a =>
        {
            a.db([.. Bytes]);
            a.vmcall();
        });

    public override string ToString() =>
        $"{Kind} on {Host.Name} ({Profile}), {Table.Count} table entries{(Setup is null ? "" : $", {Setup}")}, {Bytes.Length} bytes: {Convert.ToHexString(Bytes.AsSpan())}";
}

/// <summary>
/// The interpreter target: random bytes, biased opcode soups, mutated NASM and workload programs (the Iced builds of
/// Properties/Programs, byte-identical to nasm's, and Interpreter.Harness.Workloads) and random VMX set-ups around a
/// soup, on the test machine's table or a random guest table of a preset host, under 6.15 or 6.18.
/// </summary>
internal static class ProgramFuzz
{
    private const int MaxBytes = 512;

    /// <summary>Interpreter steps per policy and case: every corpus program finishes well within it.</summary>
    public const long Steps = 20_000;

    private static readonly ImmutableArray<ImmutableArray<byte>> Corpus =
    [
        Programs.L1OsxsavePkeXsetbv().Bytes, Programs.VmxCr4Osxsave().Bytes, Workloads.CpuidLoop(3).Bytes,
        Workloads.KvmLikeL1(3, guestXcr0: 0x7, hostXcr0: 0x207).Bytes, Workloads.L1Cpuid(3).Bytes, Workloads.Cr4Toggle(3).Bytes,
    ];

    private static readonly HostCpu[] Hosts = [TestMachine.Host, HostPresets.SkylakeSp, HostPresets.SapphireRapids, HostPresets.Genoa];

    private static readonly ulong[] GuestCr4s =
    [
        MachineLayout.InitialCr4 | Cr4.Vmxe, MachineLayout.InitialCr4 | Cr4.Vmxe | Cr4.OsXsave, MachineLayout.InitialCr4 | Cr4.Vmxe | Cr4.Pke,
        MachineLayout.InitialCr4 | Cr4.Vmxe | Cr4.OsXsave | Cr4.Pke, MachineLayout.InitialCr4,
    ];

    private static readonly ulong[] Cr4Masks = [0, Cr4.OsXsave, Cr4.Pke, Cr4.OsXsave | Cr4.Pke, ulong.MaxValue];

    /// <summary>Case <paramref name="r"/>: the kind cycles through the four, weighted to soups and VMX set-ups.</summary>
    public static ProgramCase Generate(Draws r)
    {
        var kind = (ProgramKind)r.Weighted(1, 3, 2, 2);
        var bytes = kind switch
        {
            ProgramKind.RandomBytes => FuzzInputs.RandomBytes(r, MaxBytes),
            ProgramKind.MutatedCorpus => FuzzInputs.MutateBytes(r, Corpus[r.Below(Corpus.Length)].AsSpan(), MachineLayout.MaxProgramSize),
            _ => FuzzInputs.OpcodeSoup(r, 12),
        };
        var setup = kind == ProgramKind.VmxSetUp ? VmxSetUp(r) : null;
        var host = Hosts[r.Weighted(3, 1, 2, 1)];
        var table = host == TestMachine.Host && r.Below(2) == 0 ? TestMachine.Table : TraceDistribution.GuestTable(r, host);
        return new ProgramCase(kind, [.. bytes], setup, host, r.Of(KernelProfile.Linux6_15, KernelProfile.Linux6_18), table);
    }

    private static RoundTripSetup VmxSetUp(Draws r) => new()
    {
        GuestCr4 = r.Of(GuestCr4s),
        HostCr4 = r.Of(GuestCr4s) | Cr4.Vmxe,
        Cr4GuestHostMask = r.Of(Cr4Masks),
        Cr4ReadShadow = r.Of(GuestCr4s),
        ExceptionBitmap = r.Of(0u, 1u << 6, 1u << 13, uint.MaxValue),
        ExtraProcControls = r.Of(0u, VmxCapabilities.ProcHltExiting, VmxCapabilities.ProcUnconditionalIoExiting),
        EntryMsrLoad = MsrList(r),
        ExitMsrLoad = MsrList(r),
        HostXcr0 = r.Of(0ul, 0x7ul, 0x207ul),
    };

    private static MsrEntry[] MsrList(Draws r) =>
        [.. Enumerable.Range(0, r.Weighted(3, 2, 1)).Select(_ => r.Of(FuzzInputs.Msrs.AsSpan()) is var msr ? new MsrEntry(msr, r.Of(FuzzInputs.MsrValues(msr).AsSpan())) : default)];

    /// <summary>Runs the case under <paramref name="policies"/>: null if they agree (or the bytes are no program), else the difference.</summary>
    public static string? Disagreement(ProgramCase c, IReadOnlyList<Policy> policies)
    {
        if (c.Program is not { } program)
        {
            return null;
        }
        var agreement = Runner.RunAll(policies, p => Machine.Boot(program, KvmState.WithCpuid(c.Vm, p, c.Table)), Steps);
        return agreement.Agree ? null : "disagreement: " + agreement.FirstDifference;
    }

    /// <summary>The target that checks <paramref name="policies"/> agree on every case.</summary>
    public static FuzzTarget<ProgramCase> Target(string name, IReadOnlyList<Policy> policies) => new(
        name,
        Generate,
        c => Disagreement(c, policies),
        static (c, fails) => c with { Bytes = FuzzInputs.Minimize(c.Bytes, b => fails(c with { Bytes = b })) },
        static c => c.ToString(),
        static c => [.. c.Bytes],
        ".bin"
    );
}
