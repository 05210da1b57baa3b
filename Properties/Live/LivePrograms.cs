using CpuidFunctional.Properties.Interpreter;

namespace CpuidFunctional.Properties.Live;

/// <summary>
/// One build of a program in Properties/Programs: the file and its NASM -D defines. The name is also the file name
/// of the prebuilt image the QEMU TCG guest reads (the guest has no nasm).
/// </summary>
/// <param name="File">The .asm file.</param>
/// <param name="Defines">NASM defines, e.g. <c>INTERCEPT_CPUID=0</c>.</param>
public sealed record ProgramBuild(string File, ValueArray<string> Defines)
{
    /// <summary>E.g. <c>svm-cpuid-loop.asm ROUND_TRIPS=10 INTERCEPT_CPUID=0</c>.</summary>
    public string Name => string.Join(' ', Defines.Prepend(File));

    /// <summary>E.g. <c>svm-cpuid-loop_ROUND_TRIPS=10_INTERCEPT_CPUID=0.bin</c>.</summary>
    public string ImageFile => string.Join('_', Defines.Prepend(Path.GetFileNameWithoutExtension(File))) + ".bin";

    /// <inheritdoc/>
    public override string ToString() => Name;
}

/// <summary>
/// The builds of the repository's programs that the live program tests run on the real kernel, and their images:
/// assembled with nasm on the host; inside the QEMU TCG guest (no nasm there) read from the folder
/// <see cref="TcgImageFolder"/> next to this assembly, which the host-side TCG test fills before it boots.
/// </summary>
internal static class LivePrograms
{
    /// <summary>The folder, under this assembly's, that carries the images into the TCG guest.</summary>
    public const string TcgImageFolder = "live-programs";

    /// <summary>
    /// The define that completes vmcb12's save area for a real CPU (L2's segments and page tables); the interpreter
    /// reads neither, so both sides run the same bytes (Properties/Programs/svm-harness.inc).
    /// </summary>
    public const string FullL2State = "FULL_L2_STATE";

    /// <summary>The nested SVM programs, each variant, with L2's full state (but the one below).</summary>
    public static readonly ProgramBuild[] Svm =
    [
        Build("svm-cr4-osxsave.asm", FullL2State),
        Build("svm-cpuid-loop.asm", "ROUND_TRIPS=10", "INTERCEPT_CPUID=0", FullL2State),
        Build("svm-cpuid-loop.asm", "ROUND_TRIPS=10", "INTERCEPT_CPUID=1", FullL2State, "NO_NRIPS"),
        Build("svm-l1-toggle.asm", FullL2State),
    ];

    /// <summary>
    /// The intercepted SVM CPUID loop as written: its L1 resumes L2 at vmcb12's next_rip, which needs NRIPS (the
    /// NO_NRIPS build above advances save.rip itself).
    /// </summary>
    public static readonly ProgramBuild SvmInterceptedCpuidLoop = Build("svm-cpuid-loop.asm", "ROUND_TRIPS=10", "INTERCEPT_CPUID=1", FullL2State);

    /// <summary>The default build of an SVM program: save.cs and save.cr3 zero, which only the interpreter accepts.</summary>
    public static readonly ProgramBuild SvmWithoutL2State = Build("svm-cr4-osxsave.asm");

    /// <summary>The program that uses no virtualization (L1 alone: CR4.OSXSAVE and PKE, XSETBV, CPUID).</summary>
    public static readonly ProgramBuild NonNested = Build("l1-osxsave-pke-xsetbv.asm");

    /// <summary>The nested VMX programs.</summary>
    public static readonly ProgramBuild[] Vmx =
    [
        Build("cpuid-loop.asm", "ROUND_TRIPS=10"),
        Build("vmx-cr4-osxsave.asm"),
        Build("vmx-cr4-osxsave-entry.asm"),
    ];

    /// <summary>Every build above.</summary>
    public static IEnumerable<ProgramBuild> All => [.. Svm, SvmInterceptedCpuidLoop, SvmWithoutL2State, NonNested, .. Vmx];

    /// <summary>The image of a build: nasm's output, or inside the TCG guest the prebuilt file.</summary>
    public static byte[] Image(ProgramBuild build) =>
        LiveKernel.UnderTcg
            ? File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, TcgImageFolder, build.ImageFile))
            : NasmProgramTests.Nasm(build.File, [.. build.Defines]);

    /// <summary>Assembles every build into <paramref name="folder"/> (the host side of the TCG test).</summary>
    public static void WriteImages(string folder)
    {
        Directory.CreateDirectory(folder);
        foreach (var build in All)
        {
            File.WriteAllBytes(Path.Combine(folder, build.ImageFile), NasmProgramTests.Nasm(build.File, [.. build.Defines]));
        }
    }

    private static ProgramBuild Build(string file, params string[] defines) => new(file, System.Collections.Immutable.ImmutableArray.Create(defines));
}
