using System.Diagnostics;
using CpuidFunctional.Interpreter.Machine;

namespace CpuidFunctional.Properties.Interpreter;

/// <summary>
/// The NASM sources in Properties/Programs, assembled with Debian's nasm during the test, against the Iced builds of
/// the same programs: identical bytes, hence identical runs. A missing nasm is a failure (CI installs it).
/// </summary>
public class NasmProgramTests
{
    private static string ProgramsDirectory()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "Properties", "Programs");
            if (Directory.Exists(candidate))
            {
                return candidate;
            }
        }
        throw new DirectoryNotFoundException($"Properties/Programs not found above {AppContext.BaseDirectory}");
    }

    internal static byte[] Nasm(string file, params string[] defines)
    {
        var source = Path.Combine(ProgramsDirectory(), file);
        var output = Path.Combine(Path.GetTempPath(), $"{Path.GetFileNameWithoutExtension(file)}-{Guid.NewGuid():N}.bin");
        var start = new ProcessStartInfo("nasm") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var arg in (string[])["-f", "bin", "-i", ProgramsDirectory() + "/", .. defines.Select(d => "-D" + d), "-o", output, source])
        {
            start.ArgumentList.Add(arg);
        }
        Process process;
        try
        {
            process = Process.Start(start)!;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            Assert.Fail($"nasm is not installed ({e.Message}); install Debian's nasm: apt-get install -y nasm");
            throw;
        }
        using (process)
        {
            var errors = process.StandardError.ReadToEnd();
            process.WaitForExit();
            Assert.True(process.ExitCode == 0, $"nasm {file} failed: {errors}");
        }
        try
        {
            return File.ReadAllBytes(output);
        }
        finally
        {
            File.Delete(output);
        }
    }

    private static void AssertSameProgram(byte[] nasm, Program iced) => AssertSameProgram(nasm, iced, p => TestMachine.RunAgreeing(p));

    /// <summary>The SVM programs run on the AMD guest.</summary>
    private static void AssertSameSvmProgram(byte[] nasm, Program iced) => AssertSameProgram(nasm, iced, p => SvmMachine.RunAgreeing(p));

    private static void AssertSameProgram(byte[] nasm, Program iced, Func<Program, RunResult> runAgreeing)
    {
        Assert.Equal(Convert.ToHexString(iced.Bytes.AsSpan()), Convert.ToHexString(nasm));
        var fromNasm = runAgreeing(TestMachine.FromBytes(nasm));
        var fromIced = runAgreeing(iced);
        Assert.True(fromNasm.SameBehaviour(fromIced), fromNasm.FirstDifference(fromIced));
        Assert.IsType<StopReason.Halted>(fromNasm.Stop);
    }

    [Fact]
    public void L1_osxsave_pke_xsetbv_nasm_and_iced_builds_are_identical()
    {
        AssertSameProgram(Nasm("l1-osxsave-pke-xsetbv.asm"), Programs.L1OsxsavePkeXsetbv());
    }

    [Fact]
    public void Cpuid_loop_nasm_and_iced_builds_are_identical()
    {
        AssertSameProgram(Nasm("cpuid-loop.asm", "ROUND_TRIPS=10"), Workloads.CpuidLoop(10));
    }

    [Fact]
    public void Vmx_cr4_osxsave_nasm_and_iced_builds_are_identical()
    {
        AssertSameProgram(Nasm("vmx-cr4-osxsave.asm"), Programs.VmxCr4Osxsave());
    }

    [Fact]
    public void Vmx_cr4_osxsave_entry_nasm_and_iced_builds_are_identical()
    {
        AssertSameProgram(Nasm("vmx-cr4-osxsave-entry.asm"), Programs.VmxCr4OsxsaveByEntry());
    }

    [Fact]
    public void Svm_cr4_osxsave_nasm_and_iced_builds_are_identical()
    {
        AssertSameSvmProgram(Nasm("svm-cr4-osxsave.asm"), Programs.SvmCr4Osxsave());
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Svm_cpuid_loop_nasm_and_iced_builds_are_identical(bool intercept)
    {
        AssertSameSvmProgram(Nasm("svm-cpuid-loop.asm", "ROUND_TRIPS=10", $"INTERCEPT_CPUID={(intercept ? 1 : 0)}"), Workloads.SvmCpuidLoop(10, intercept));
    }

    [Fact]
    public void Svm_l1_toggle_nasm_and_iced_builds_are_identical()
    {
        AssertSameSvmProgram(Nasm("svm-l1-toggle.asm"), Programs.SvmL1Toggle());
    }
}
