using CpuidFunctional.Core.Cpuid;
using CpuidFunctional.Core.Host;
using CpuidFunctional.Interpreter.Machine;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace CpuidFunctional.Interpreter.Harness;

/// <summary>
/// The benchmark workloads (issue 5), built from the <see cref="RoundTrip"/> harness and parameterized by the number
/// of round trips. Each ends with L2's VMCALL: L1 reports the exit reason (18) on port 0x80 and its own CPUID.1:ECX on
/// port 0x81, then halts. The nested SVM workloads (<c>svm-</c>) are built on <see cref="SvmHarness"/> and need an AMD
/// guest (<see cref="HostFor"/>). Bench and the property tests share them.
/// </summary>
public static class Workloads
{
    /// <summary>The workload names, in the benchmark's order.</summary>
    public static IReadOnlyList<string> Names { get; } = ["cpuid-loop", "kvm-like-l1", "l1-cpuid", "cr4-toggle", "svm-cpuid-loop", "svm-cpuid-l0"];

    /// <summary>A step limit that is generous for any workload of <paramref name="roundTrips"/> round trips.</summary>
    public static long StepBudget(int roundTrips) => (64L * roundTrips) + 1000;

    /// <summary>A workload by name, or null for an unknown name.</summary>
    public static Program? ByName(string name, int roundTrips) =>
        name switch
        {
            "cpuid-loop" => CpuidLoop(roundTrips),
            "kvm-like-l1" => KvmLikeL1(roundTrips),
            "l1-cpuid" => L1Cpuid(roundTrips),
            "cr4-toggle" => Cr4Toggle(roundTrips),
            "svm-cpuid-loop" => SvmCpuidLoop(roundTrips, interceptCpuid: true),
            "svm-cpuid-l0" => SvmCpuidLoop(roundTrips, interceptCpuid: false),
            _ => null,
        };

    /// <summary>Whether a workload runs nested SVM (an AMD guest) rather than nested VMX.</summary>
    public static bool IsSvm(string name) => name.StartsWith("svm-", StringComparison.Ordinal);

    /// <summary>
    /// The host a workload runs on when <paramref name="requested"/> was asked for. KVM offers SVM to guests only under
    /// kvm_amd and VMX only under kvm_intel, so an SVM workload on an Intel host runs on the Genoa preset and a VMX one
    /// on an AMD or Hygon host on the Skylake-SP preset; otherwise the requested host.
    /// </summary>
    public static HostCpu HostFor(string name, HostCpu requested) =>
        IsSvm(name) == requested.IsAmdOrHygon ? requested
        : IsSvm(name) ? HostPresets.Genoa
        : HostPresets.SkylakeSp;

    /// <summary>
    /// The seed's experiment: L2 runs CPUID.1 in a tight loop; the minimal L1 handler reads the exit reason and
    /// instruction length, advances GUEST_RIP and VMRESUMEs. L1's CR4 has OSXSAVE and PKE, L2's has neither.
    /// </summary>
    public static Program CpuidLoop(int roundTrips) =>
        RoundTrip.Build(new RoundTripSetup(), HandlerWith(_ => { }), a => CpuidLoopBody(a, roundTrips, toggle: false));

    /// <summary>
    /// Like <see cref="CpuidLoop"/>, but L1 behaves like KVM: on every exit it switches XCR0 and IA32_XSS to its own
    /// values, and before every VMRESUME back to L2's (each an L0 exit: XSETBV and WRMSR triggers).
    /// </summary>
    public static Program KvmLikeL1(int roundTrips, ulong guestXcr0 = 0x3, ulong hostXcr0 = 0x7, ulong guestXss = 0, ulong hostXss = 0)
    {
        var setup = new RoundTripSetup { HostXcr0 = hostXcr0 };
        return RoundTrip.Build(
            setup,
            a =>
            {
                var other = a.CreateLabel("other");
                EmitXcr0AndXss(a, hostXcr0, hostXss);
                a.mov(ebx, VmcsField.VmExitReason);
                a.vmread(rax, rbx);
                a.cmp(eax, (int)ExitReason.Cpuid);
                a.jne(other);
                EmitXcr0AndXss(a, guestXcr0, guestXss);
                RoundTrip.EmitSkipInstructionAndResume(a);
                a.Label(ref other);
                RoundTrip.EmitReportAndHalt(a);
            },
            a => CpuidLoopBody(a, roundTrips, toggle: false)
        );
    }

    /// <summary>Like <see cref="CpuidLoop"/>, but L1 executes CPUID.1 itself on every exit: one materialization per round trip under Lazy.</summary>
    public static Program L1Cpuid(int roundTrips) =>
        RoundTrip.Build(
            new RoundTripSetup(),
            HandlerWith(a =>
            {
                a.mov(eax, 1);
                a.xor(ecx, ecx);
                a.cpuid();
            }),
            a => CpuidLoopBody(a, roundTrips, toggle: false)
        );

    /// <summary>Like <see cref="CpuidLoop"/>, but L2 toggles CR4.PKE (applied by L0: L1 does not own it) before every CPUID.</summary>
    public static Program Cr4Toggle(int roundTrips) =>
        RoundTrip.Build(new RoundTripSetup(), HandlerWith(_ => { }), a => CpuidLoopBody(a, roundTrips, toggle: true));

    /// <summary>
    /// The seed's round trip on AMD (Properties/Programs/svm-cpuid-loop.asm): L2 runs CPUID.1 in a loop, reports the
    /// last ECX on port 0x82 and VMMCALLs. With <paramref name="interceptCpuid"/> vmcb12 intercepts CPUID, so every
    /// CPUID is a #VMEXIT (code 0x72) whose handler sets save.rip = next_rip and VMRUNs again; without it L0 answers
    /// L2's CPUID itself, with L2's CR4. L1's CR4 has OSXSAVE and PKE, L2's neither. L1 reports the final exit code on
    /// port 0x80 and its own CPUID.1:ECX on port 0x81.
    /// </summary>
    public static Program SvmCpuidLoop(int roundTrips, bool interceptCpuid)
    {
        var a = new Assembler(64);
        var run = a.CreateLabel("run");
        var other = a.CreateLabel("other");
        var l2 = a.CreateLabel("l2");
        var top = a.CreateLabel("l2_top");
        SvmHarness.EmitSetup(a, MachineLayout.InitialCr4 | Cr4.OsXsave | Cr4.Pke, MachineLayout.InitialCr4, interceptCpuid ? Vmcb12.InterceptCpuid : 0, Vmcb12.InterceptVmmcall, l2);
        a.Label(ref run);
        SvmHarness.EmitVmrun(a);
        SvmHarness.EmitReadExitCode(a);
        a.cmp(eax, (int)SvmExitCode.Cpuid);
        a.jne(other);
        SvmHarness.EmitSkipL2Instruction(a);
        a.jmp(run);
        a.Label(ref other);
        RoundTrip.EmitReportAndHalt(a);
        a.Label(ref l2);
        a.mov(r12d, roundTrips);
        a.Label(ref top);
        a.mov(eax, 1);
        a.xor(ecx, ecx);
        a.cpuid();
        a.dec(r12d);
        a.jne(top);
        a.mov(eax, ecx);
        a.@out(0x82, eax);
        a.vmmcall();
        return RoundTrip.Assemble(a);
    }

    /// <summary>An exit handler: <paramref name="onExit"/> first, then the CPUID fast path; any other exit reports and halts.</summary>
    private static Action<Assembler> HandlerWith(Action<Assembler> onExit) =>
        a =>
        {
            var other = a.CreateLabel("other");
            onExit(a);
            RoundTrip.EmitAdvanceOnCpuidAndResume(a, other);
            a.Label(ref other);
            RoundTrip.EmitReportAndHalt(a);
        };

    /// <summary>L2: R12 = round trips; loop { [toggle CR4.PKE;] CPUID.1 } ; VMCALL.</summary>
    private static void CpuidLoopBody(Assembler a, int roundTrips, bool toggle)
    {
        var top = a.CreateLabel("l2_top");
        a.mov(r12d, roundTrips);
        a.Label(ref top);
        if (toggle)
        {
            a.mov(rax, cr4);
            a.xor(rax, (int)Cr4.Pke);
            a.mov(cr4, rax);
        }
        a.mov(eax, 1);
        a.xor(ecx, ecx);
        a.cpuid();
        a.dec(r12d);
        a.jne(top);
        a.vmcall();
    }

    private static void EmitXcr0AndXss(Assembler a, ulong xcr0, ulong xss)
    {
        a.xor(ecx, ecx);
        a.mov(eax, (uint)xcr0);
        a.mov(edx, (uint)(xcr0 >> 32));
        a.xsetbv();
        a.mov(ecx, Msr.Xss);
        a.mov(eax, (uint)xss);
        a.mov(edx, (uint)(xss >> 32));
        a.wrmsr();
    }
}
