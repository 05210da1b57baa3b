using System.Collections.Immutable;
using System.Diagnostics;
using CpuidFunctional.Core.Checking;
using CpuidFunctional.Interpreter.Machine;
using CpuidFunctional.Interpreter.Svm;
using CpuidFunctional.Interpreter.Vmx;
using CpuidFunctional.Properties.Interpreter;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace CpuidFunctional.Properties.Fuzz;

/// <summary>How a program case's bytes are run: as the whole image, or as the L2 body of a random VMX or SVM set-up.</summary>
internal enum ProgramKind
{
    RandomBytes,
    OpcodeSoup,
    MutatedCorpus,
    VmxSetUp,
    SvmSetUp,
}

/// <summary>The nested set-up an L2 body runs in: a VMX round trip or an SVM VMRUN loop.</summary>
internal abstract record NestedSetUp
{
    /// <summary>
    /// The <see cref="RoundTrip"/> harness with <see cref="RandomProgramProperties.ObservingHandler(Assembler, ulong)"/>
    /// (L1 flips <paramref name="L1Cr4Toggle"/> in its CR4 before every VMRESUME); L2 ends in VMCALL.
    /// </summary>
    public sealed record Vmx(RoundTripSetup Setup, ulong L1Cr4Toggle) : NestedSetUp;

    /// <summary><see cref="SvmHarness.BuildLoop"/>: L1 runs <paramref name="BeforeVmrun"/> before every VMRUN and CPUID 1 and 0xD after every #VMEXIT it resumes from; L2 ends in VMMCALL.</summary>
    public sealed record Svm(SvmLoopSetup Loop, ValueArray<SvmL1Op> BeforeVmrun) : NestedSetUp
    {
        public override string ToString() =>
            $"L1 CR4 0x{Loop.L1Cr4:x}, save.cr4 0x{Loop.L2Cr4:x}, intercepts CR 0x{Loop.CrIntercepts:x} word3 0x{Loop.Word3:x} word4 0x{Loop.Word4:x}, before VMRUN {BeforeVmrun}";
    }
}

/// <summary>Something a random SVM L1 does before each VMRUN (<see cref="NestedSetUp.Svm"/>), as svm-l1-toggle.asm does.</summary>
internal abstract record SvmL1Op
{
    /// <summary>L1's own CR4 ^= <paramref name="Bits"/> (MOV CR4 at L1: L0's <c>svm_set_cr4</c>).</summary>
    public sealed record ToggleCr4(ulong Bits) : SvmL1Op;

    /// <summary>vmcb12's save.cr4 ^= <paramref name="Bits"/> (what the next VMRUN loads).</summary>
    public sealed record ToggleSaveCr4(ulong Bits) : SvmL1Op;

    /// <summary>Intercept word 3 ^= <paramref name="Bits"/> (the CPUID intercept on for one VMRUN, off for the next).</summary>
    public sealed record ToggleWord3(uint Bits) : SvmL1Op;

    /// <summary>XSETBV at L1 (XCR0 ← <paramref name="Xcr0"/>).</summary>
    public sealed record Xsetbv(ulong Xcr0) : SvmL1Op;

    /// <summary>CPUID <paramref name="Leaf"/>.0 at L1: a consumer, so the VMRUN after it starts from a clean table.</summary>
    public sealed record Cpuid(uint Leaf) : SvmL1Op;

    public sealed override string ToString() => this switch
    {
        ToggleCr4(var bits) => $"CR4 ^= 0x{bits:x}",
        ToggleSaveCr4(var bits) => $"save.cr4 ^= 0x{bits:x}",
        ToggleWord3(var bits) => $"word3 ^= 0x{bits:x}",
        Xsetbv(var xcr0) => $"XSETBV 0x{xcr0:x}",
        Cpuid(var leaf) => $"CPUID 0x{leaf:x}",
        _ => throw new UnreachableException(),
    };

    /// <summary>Emits the operation (clobbers RAX, RCX, RDX and RDI).</summary>
    public static void Emit(Assembler a, SvmL1Op op)
    {
        switch (op)
        {
            case ToggleCr4(var bits):
                a.mov(rax, cr4);
                a.xor(eax, (int)bits);
                a.mov(cr4, rax);
                break;
            case ToggleSaveCr4(var bits):
                a.mov(rdi, (long)SvmHarness.Vmcb);
                a.xor(__qword_ptr[rdi + Vmcb12.Cr4Offset], (int)bits);
                break;
            case ToggleWord3(var bits):
                a.mov(rdi, (long)SvmHarness.Vmcb);
                a.xor(__dword_ptr[rdi + Vmcb12.Word3Offset], (int)bits);
                break;
            case Xsetbv(var xcr0):
                a.xor(ecx, ecx);
                a.mov(eax, (uint)xcr0);
                a.mov(edx, (uint)(xcr0 >> 32));
                a.xsetbv();
                break;
            case Cpuid(var leaf):
                a.db(FuzzInputs.Observe(leaf, 0));
                break;
            default:
                throw new UnreachableException();
        }
    }
}

/// <summary>
/// One interpreter case: the bytes, how they run (<see cref="Setup"/> for an L2 body), the host and kernel, and the
/// guest table installed with KVM_SET_CPUID2 before the run.
/// </summary>
internal sealed record ProgramCase(ProgramKind Kind, ImmutableArray<byte> Bytes, NestedSetUp? Setup, HostCpu Host, KernelProfile Profile, CpuidTable Table)
{
    public Vm Vm => new(Host, Profile);

    /// <summary>The image to load, or null when the bytes are no program (<see cref="Program.FromBytes"/>'s errors).</summary>
    public Program? Program => Setup switch
    {
        null => Program.FromBytes(Bytes.AsSpan()) is Result<Program>.Ok ok ? ok.Value : null,
        NestedSetUp.Vmx(var vmx, var toggle) => RoundTrip.Build(vmx, a => RandomProgramProperties.ObservingHandler(a, toggle), a =>
        {
            a.db([.. Bytes]);
            a.vmcall();
        }),
        NestedSetUp.Svm(var loop, var beforeVmrun) => SvmHarness.BuildLoop(
            loop,
            a =>
            {
                foreach (var op in beforeVmrun)
                {
                    SvmL1Op.Emit(a, op);
                }
            },
            RandomProgramProperties.EmitCpuid1AndD,
            a =>
            {
                a.db([.. Bytes]);
                a.vmmcall();
            }
        ),
        _ => throw new UnreachableException(),
    };

    public override string ToString() =>
        $"{Kind} on {Host.Name} ({Profile}), {Table.Count} table entries{(Setup is null ? "" : $", {Setup}")}, {Bytes.Length} bytes: {Convert.ToHexString(Bytes.AsSpan())}";
}

/// <summary>
/// The interpreter target: random bytes, biased opcode soups, mutated NASM and workload programs (the Iced builds of
/// Properties/Programs, byte-identical to nasm's, and Interpreter.Harness.Workloads), random VMX set-ups around a
/// soup and, on an AMD host, random SVM VMRUN loops around a soup; on the test machine's table or a random guest table
/// of a preset host, under 6.15 or 6.18.
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

    /// <summary>The hosts an SVM set-up runs on: KVM exposes SVM on AMD and Hygon only.</summary>
    private static readonly HostCpu[] SvmHosts = [SvmMachine.Vm.Host, HostPresets.Genoa];

    private static readonly ulong[] GuestCr4s =
    [
        MachineLayout.InitialCr4 | Cr4.Vmxe, MachineLayout.InitialCr4 | Cr4.Vmxe | Cr4.OsXsave, MachineLayout.InitialCr4 | Cr4.Vmxe | Cr4.Pke,
        MachineLayout.InitialCr4 | Cr4.Vmxe | Cr4.OsXsave | Cr4.Pke, MachineLayout.InitialCr4,
    ];

    private static readonly ulong[] Cr4Masks = [0, Cr4.OsXsave, Cr4.Pke, Cr4.OsXsave | Cr4.Pke, ulong.MaxValue];

    /// <summary>CR4 values of an SVM set-up's L1 and L2 (no VMXE: it is reserved on AMD).</summary>
    private static readonly ulong[] SvmCr4s =
        [MachineLayout.InitialCr4, MachineLayout.InitialCr4 | Cr4.OsXsave, MachineLayout.InitialCr4 | Cr4.Pke, MachineLayout.InitialCr4 | Cr4.OsXsave | Cr4.Pke];

    private static readonly ulong[] DynamicToggles = [Cr4.OsXsave, Cr4.Pke, Cr4.OsXsave | Cr4.Pke];

    /// <summary>Case <paramref name="r"/>: the kind cycles through the five, weighted to soups and nested set-ups.</summary>
    public static ProgramCase Generate(Draws r)
    {
        var kind = (ProgramKind)r.Weighted(1, 3, 2, 2, 2);
        var bytes = kind switch
        {
            ProgramKind.RandomBytes => FuzzInputs.RandomBytes(r, MaxBytes),
            ProgramKind.MutatedCorpus => FuzzInputs.MutateBytes(r, Corpus[r.Below(Corpus.Length)].AsSpan(), MachineLayout.MaxProgramSize),
            _ => FuzzInputs.OpcodeSoup(r, 12),
        };
        NestedSetUp? setup = kind switch
        {
            ProgramKind.VmxSetUp => new NestedSetUp.Vmx(VmxSetUp(r), r.Of(0ul, 0ul, Cr4.OsXsave, Cr4.Pke, Cr4.OsXsave | Cr4.Pke)),
            ProgramKind.SvmSetUp => SvmSetUp(r),
            _ => null,
        };
        var host = kind == ProgramKind.SvmSetUp ? r.Of(SvmHosts) : Hosts[r.Weighted(3, 1, 2, 1)];
        var table = OwnTable(host) is { } own && r.Below(2) == 0 ? own : TraceDistribution.GuestTable(r, host);
        return new ProgramCase(kind, [.. bytes], setup, host, r.Of(KernelProfile.Linux6_15, KernelProfile.Linux6_18), table);
    }

    /// <summary>The table a test host was made from (the test machines'), or null for a preset.</summary>
    private static CpuidTable? OwnTable(HostCpu host) =>
        host == TestMachine.Host ? TestMachine.Table : host == SvmMachine.Vm.Host ? SvmMachine.Table : null;

    /// <summary>
    /// A random VMRUN loop: both CR4s with or without OSXSAVE and PKE, CPUID intercepted or not, HLT or SHUTDOWN
    /// half the time each, VMMCALL mostly, XSETBV and CR4 writes sometimes; before each VMRUN up to three L1 operations.
    /// </summary>
    private static NestedSetUp.Svm SvmSetUp(Draws r) => new(
        new SvmLoopSetup
        {
            L1Cr4 = r.Of(SvmCr4s),
            L2Cr4 = r.Of(SvmCr4s),
            CrIntercepts = r.Of(0u, 1u << (int)(Vmcb12.CrWriteShift + 4)),
            Word3 = r.Of(0u, Vmcb12.InterceptCpuid) | r.Of(0u, Vmcb12.InterceptHlt, Vmcb12.InterceptHlt | Vmcb12.InterceptShutdown, Vmcb12.InterceptShutdown),
            Word4 = r.Of(Vmcb12.InterceptVmmcall, Vmcb12.InterceptVmmcall, Vmcb12.InterceptVmmcall | Vmcb12.InterceptXsetbv, Vmcb12.InterceptXsetbv),
        },
        new([.. Enumerable.Range(0, r.Weighted(2, 3, 2, 1)).Select(_ => SvmL1Operation(r))])
    );

    private static SvmL1Op SvmL1Operation(Draws r) => r.Weighted(3, 3, 1, 1, 3) switch
    {
        0 => new SvmL1Op.ToggleCr4(r.Of(DynamicToggles)),
        1 => new SvmL1Op.ToggleSaveCr4(r.Of(DynamicToggles)),
        2 => new SvmL1Op.ToggleWord3(Vmcb12.InterceptCpuid),
        3 => new SvmL1Op.Xsetbv(r.Of(FuzzInputs.Xcr0Values.AsSpan())),
        _ => new SvmL1Op.Cpuid(r.Of(1u, 7u, 0xDu)),
    };

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
