using CpuidFunctional.Interpreter.Machine;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace CpuidFunctional.Interpreter.Harness;

/// <summary>
/// The benchmark workloads (issue 5), built from the <see cref="RoundTrip"/> harness and parameterized by the number
/// of round trips. Each ends with L2's VMCALL: L1 reports the exit reason (18) on port 0x80 and its own CPUID.1:ECX on
/// port 0x81, then halts. Bench and the property tests share them.
/// </summary>
public static class Workloads
{
    /// <summary>The workload names, in the benchmark's order.</summary>
    public static IReadOnlyList<string> Names { get; } = ["cpuid-loop", "kvm-like-l1", "l1-cpuid", "cr4-toggle"];

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
            _ => null,
        };

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
