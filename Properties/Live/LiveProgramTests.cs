using CpuidFunctional.Oracle;

namespace CpuidFunctional.Properties.Live;

/// <summary>
/// The interpreter's programs (Properties/Programs) on the real kernel: each build runs as the only vCPU of a VM
/// set up as the interpreter's machine contract says (<see cref="LiveProgram"/>), with the kernel's
/// KVM_GET_SUPPORTED_CPUID as guest CPUID, and in the interpreter under Eager with the kernel as host, on the
/// kernel's profile. Every OUT (port, value, size; the host cannot tell L1's from L2's) and the final stop must
/// agree. The nested programs are the L1 hypervisor, so on kvm_amd with nested=1 (the QEMU TCG 6.1 kernel) VMRUN,
/// L0's answers to L2's CPUID and every #VMEXIT are the kernel's own. Three differences are known and pinned
/// below, each with its cause (docs/live-kernel.md).
/// </summary>
public class LiveProgramTests
{
    private const uint SvmBit = 1u << 2;   // CPUID 0x80000001:ECX
    private const uint NripsBit = 1u << 3; // CPUID 0x8000000A:EDX: the CPU saves next_rip on #VMEXIT
    private const ushort ExitCodePort = 0x80;
    private const ushort L2Port = 0x82;
    private const ushort XsaveSizePort = 0x8D;
    private const uint SvmExitVmrun = 0x80;
    private const uint X87OnlyXsaveSize = 0x240; // legacy area + header: XCR0 = 1

    public static TheoryData<string> SvmBuilds => [.. LivePrograms.Svm.Select(b => b.Name)];

    public static TheoryData<string> VmxBuilds => [.. LivePrograms.Vmx.Select(b => b.Name)];

    [Theory]
    [MemberData(nameof(SvmBuilds))]
    public void A_nested_SVM_program_makes_the_same_OUTs_and_stops_the_same_way_on_kvm_amd_as_in_the_interpreter(string build)
    {
        using var kvm = OpenNestedSvmOrSkip(out var profile);
        AssertAgree(Compare(kvm, Named(build), profile));
    }

    [Fact]
    public void An_intercepted_L2_CPUID_loop_agrees_with_or_without_NRIPS_because_next_rip_is_written_only_with_nrips_enabled()
    {
        using var kvm = OpenNestedSvmOrSkip(out var profile);
        var c = Compare(kvm, LivePrograms.SvmInterceptedCpuidLoop, profile);
        // L1's handler resumes L2 at vmcb12's next_rip. kvm_amd writes it only with nrips_enabled (the host CPU and the
        // guest CPUID have NRIPS; QEMU's TCG offers none), and so does the interpreter (Kvm.NestedSvmNripsEnabled).
        // Without NRIPS next_rip stays 0 on both sides: L2 resumes at 0, runs through zeroed memory into L1's own code
        // up to its VMRUN, which exits to L1 (0x80), and L1 reports that code.
        AssertAgree(c);
        if (LiveKernel.Supported(kvm).Find(0x8000_000A, 0) is not { } svmLeaf || (svmLeaf.Edx & NripsBit) == 0)
        {
            Assert.True(c.Live.Count > 0 && c.Live[0] == new LiveOutput(ExitCodePort, SvmExitVmrun, 4), c.Details);
        }
    }

    [Fact]
    public void The_default_build_of_an_SVM_program_gives_L2_no_code_segment_or_page_tables_and_kvm_amd_shuts_down_where_the_interpreter_runs_it()
    {
        using var kvm = OpenNestedSvmOrSkip(out var profile);
        var c = Compare(kvm, LivePrograms.SvmWithoutL2State, profile);
        // Model: the interpreter runs L2 in 64-bit mode on L1's identity map whatever vmcb12's save.cs and save.cr3
        // say. kvm_amd loads them: L2 starts in compatibility mode with CR3 = 0, faults without an IDT, and the
        // triple fault, not intercepted by L1 (nested_svm_triple_fault), shuts the vCPU down. L1's report before
        // VMRUN still agrees.
        Assert.True(c.ModelStop is FinalStop.Halted && c.Model.Count == 3, c.Details);
        Assert.True(c.LiveStop is FinalStop.Shutdown && c.Live.SequenceEqual(c.Model.Take(1)), c.Details);
    }

    [Fact]
    public void A_program_without_virtualization_makes_the_same_OUTs_and_stops_the_same_way_but_under_TCG_its_XSETBV_never_reaches_KVM()
    {
        using var kvm = OpenUpstreamOrSkip(out var profile);
        var c = Compare(kvm, LivePrograms.NonNested, profile);
        if (!LiveKernel.UnderTcg)
        {
            AssertAgree(c);
            return;
        }
        // Emulator: QEMU's TCG does not implement SVM's XSETBV intercept, so KVM's XCR0 stays 1 and CPUID.0xD.0:EBX
        // keeps the x87-only size (docs/live-kernel.md, kernel 2). Everything else agrees.
        var xsaveSize = c.Model.Select((o, i) => (o, i)).Single(p => p.o.Port == XsaveSizePort).i;
        Assert.True(c.Live.Count > xsaveSize && c.Live[xsaveSize] == new LiveOutput(XsaveSizePort, X87OnlyXsaveSize, 4), c.Details);
        Assert.True(c.Differences.Count == 1 && c.Differences[0].StartsWith($"OUT {xsaveSize}:", StringComparison.Ordinal), c.Details);
    }

    [Theory]
    [MemberData(nameof(VmxBuilds))]
    public void A_nested_VMX_program_makes_the_same_OUTs_and_stops_the_same_way_on_every_kernel(string build)
    {
        // Where the kernel offers no VMX (kvm_amd, kvm_intel without nested=1) both sides refuse CR4.VMXE: a #GP
        // with no IDT, a shutdown. Not skipped there: inside the TCG guest every live test must run.
        using var kvm = OpenUpstreamOrSkip(out var profile);
        AssertAgree(Compare(kvm, Named(build), profile));
    }

    private static ProgramBuild Named(string build) => LivePrograms.All.Single(b => b.Name == build);

    private static ProgramComparison Compare(KvmSystem kvm, ProgramBuild build, KernelProfile profile)
    {
        var comparison = LiveProgramComparison.Run(kvm, build, profile);
        TestContext.Current.TestOutputHelper?.WriteLine($"live program {comparison.Details}");
        return comparison;
    }

    private static void AssertAgree(ProgramComparison comparison) =>
        Assert.True(comparison.Differences.Count == 0, comparison.Details);

    /// <summary>As <see cref="OpenUpstreamOrSkip"/>, and the kernel offers SVM to guests (kvm_amd with nested=1).</summary>
    private static KvmSystem OpenNestedSvmOrSkip(out KernelProfile profile)
    {
        var kvm = OpenUpstreamOrSkip(out profile);
        if (LiveKernel.Supported(kvm).Find(0x8000_0001, 0) is { } leaf && (leaf.Ecx & SvmBit) != 0)
        {
            return kvm;
        }
        kvm.Dispose();
        Assert.Skip($"the kernel offers guests no SVM (KVM_GET_SUPPORTED_CPUID 0x80000001:ECX.SVM needs kvm_amd with nested=1); {LiveKernelIdentity.Current}");
        throw new InvalidOperationException("unreachable: Assert.Skip throws");
    }

    /// <summary>The live KVM on an upstream vendor module, with the model's profile for it; otherwise a skip.</summary>
    private static KvmSystem OpenUpstreamOrSkip(out KernelProfile profile)
    {
        var kvm = LiveKernel.OpenOrSkip();
        var identity = LiveKernelIdentity.Current;
        if (!identity.IsPvm && identity.Profile is { } known)
        {
            profile = known;
            return kvm;
        }
        kvm.Dispose();
        Assert.Skip($"the program runner starts a plain 64-bit CPL0 vCPU, which kvm_pvm does not run as hardware does; {identity}");
        throw new InvalidOperationException("unreachable: Assert.Skip throws");
    }
}
