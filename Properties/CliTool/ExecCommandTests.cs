using System.Text.Json;
using CpuidFunctional.Cli;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;
using static CpuidFunctional.Properties.CliTool.CliRunner;
using Programs = CpuidFunctional.Properties.Interpreter.Programs;

namespace CpuidFunctional.Properties.CliTool;

/// <summary><c>cpuidf exec</c>: a flat binary (assembled with Iced here) written to a file and run under each policy.</summary>
public class ExecCommandTests
{
    private const int OsXsaveBit = 27;

    /// <summary>docs/interpreter.md's example: set CR4.OSXSAVE, read CPUID.1, report ECX on port 0x81, halt.</summary>
    private static byte[] Cr4ThenCpuid()
    {
        var a = new Assembler(64);
        a.mov(rax, cr4);
        a.or(rax, (int)Cr4.OsXsave);
        a.mov(cr4, rax);
        a.mov(eax, 1);
        a.xor(ecx, ecx);
        a.cpuid();
        a.mov(eax, ecx);
        a.@out(0x81, eax);
        a.hlt();
        return [.. RoundTrip.Assemble(a).Bytes];
    }

    [Fact]
    public void Exec_runs_the_program_under_all_three_correct_policies_and_reports_agreement()
    {
        using var file = Temp(Programs.L1OsxsavePkeXsetbv().Bytes.AsSpan());

        var (exit, output, error) = Cpuidf("exec", file.Path, "--host", "sapphire-rapids");

        Assert.Equal(ExitCodes.Ok, exit);
        Assert.Equal("", error);
        foreach (var policy in new[] { "eager", "lazy", "reference" })
        {
            Assert.Contains($"\n{policy}: HLT at 0x", output, StringComparison.Ordinal);
        }
        Assert.Contains("L1 out 0x81 <- 0x", output, StringComparison.Ordinal);
        Assert.Contains("L1 out 0x8d <- 0xa88 (4)", output, StringComparison.Ordinal); // CPUID.0xD.0:EBX for XCR0 = 0x207 on SPR
        Assert.Contains("the policies agree (eager, lazy, reference)", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Exec_json_lists_per_policy_outputs_steps_and_effort()
    {
        using var file = Temp(Programs.L1OsxsavePkeXsetbv().Bytes.AsSpan());

        var (exit, output, _) = Cpuidf("exec", file.Path, "--json");

        Assert.Equal(ExitCodes.Ok, exit);
        using var json = JsonDocument.Parse(output);
        var runs = json.RootElement.GetProperty("runs").EnumerateArray().ToList();
        Assert.Equal(["eager", "lazy", "reference"], runs.Select(r => r.GetProperty("policy").GetString()));
        foreach (var run in runs)
        {
            Assert.Equal("Halted", run.GetProperty("stopKind").GetString());
            Assert.Equal(runs[0].GetProperty("steps").GetInt64(), run.GetProperty("steps").GetInt64());
            var leaf1 = run.GetProperty("outputs").EnumerateArray().First(o => o.GetProperty("port").GetInt32() == 0x81);
            Assert.Equal(1u, (leaf1.GetProperty("value").GetUInt32() >> OsXsaveBit) & 1); // CR4.OSXSAVE was set
        }
        // Eager updates at each trigger; the lazy designs do it once, at the first CPUID.
        Assert.True(runs[0].GetProperty("runtimeUpdates").GetInt32() > runs[1].GetProperty("runtimeUpdates").GetInt32());
        Assert.True(json.RootElement.GetProperty("agree").GetBoolean());
        Assert.Equal(JsonValueKind.Null, json.RootElement.GetProperty("firstDifference").ValueKind);
    }

    [Fact]
    public void Exec_runs_a_nested_program_and_the_policies_agree()
    {
        using var file = Temp(Programs.VmxCr4Osxsave().Bytes.AsSpan());

        var (exit, output, _) = Cpuidf("exec", file.Path, "--policy", "eager", "lazy", "--kernel", "6.15");

        Assert.Equal(ExitCodes.Ok, exit);
        Assert.Contains("the policies agree (eager, lazy)", output, StringComparison.Ordinal);
        Assert.DoesNotContain("\nReference:", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Exec_with_a_wrong_lazy_policy_reports_the_first_difference_with_exit_code_1()
    {
        // Only the CR4 write can make OSXSAVE visible here (no XSETBV follows it to trigger an update instead).
        using var file = Temp(Cr4ThenCpuid());

        var (exit, output, _) = Cpuidf("exec", file.Path, "--bug", "ForgetCr4Trigger");

        Assert.Equal(ExitCodes.Failed, exit);
        Assert.Contains("the policies DIFFER: eager vs lazy+ForgetCr4Trigger: observation", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Exec_stops_at_the_step_limit_and_says_so()
    {
        using var file = Temp(Programs.L1OsxsavePkeXsetbv().Bytes.AsSpan());

        var (exit, output, _) = Cpuidf("exec", file.Path, "--max-steps", "3");

        Assert.Equal(ExitCodes.Ok, exit);
        Assert.Contains("eager: step limit of 3 instructions reached after 3 instructions", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Exec_of_an_empty_file_is_bad_input()
    {
        using var file = Temp([]);

        var (exit, _, error) = Cpuidf("exec", file.Path);

        Assert.Equal(ExitCodes.BadInput, exit);
        Assert.Contains($"{file.Path}: empty program", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Exec_with_a_malformed_dump_names_the_dump_file_and_line()
    {
        using var program = Temp(Programs.L1OsxsavePkeXsetbv().Bytes.AsSpan());
        using var dump = Temp("CPUID 00000000: 0000000D-756E6547-6C65746E-49656E69\nCPUID 00000001: zz\n"u8, ".txt");

        var (exit, _, error) = Cpuidf("exec", program.Path, "--host", dump.Path);

        Assert.Equal(ExitCodes.BadInput, exit);
        Assert.Contains($"{dump.Path}:2: ", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/no/such/program.bin", new string[0], "/no/such/program.bin: cannot read the file")]
    [InlineData("PROGRAM", new[] { "--host", "pentium-4" }, "unknown host preset 'pentium-4'")]
    [InlineData("PROGRAM", new[] { "--max-steps", "12x" }, "--max-steps: bad number '12x'")]
    [InlineData("PROGRAM", new[] { "--kernel", "5.4" }, "--kernel: unknown kernel '5.4' (expected one of 6.15, 6.18)")]
    [InlineData("PROGRAM", new[] { "--policy", "fast" }, "--policy: unknown policy 'fast'")]
    [InlineData("PROGRAM", new[] { "--bug", "NoSuchBug" }, "--bug: unknown wrong variant 'NoSuchBug' (expected one of ForgetCr4Trigger,")]
    [InlineData("PROGRAM", new[] { "--policy", "eager", "--bug", "ForgetCr4Trigger" }, "--bug: the bug is injected into Lazy")]
    public void Exec_bad_input_is_a_clear_error_with_exit_code_2(string program, string[] options, string message)
    {
        using var file = Temp(Programs.L1OsxsavePkeXsetbv().Bytes.AsSpan());

        var (exit, output, error) = Cpuidf(["exec", program == "PROGRAM" ? file.Path : program, .. options]);

        Assert.Equal(ExitCodes.BadInput, exit);
        Assert.Equal("", output);
        Assert.Contains(message, error, StringComparison.Ordinal);
    }

    [Fact]
    public void The_default_host_sizes_match_the_host_verb()
    {
        // The program sets XCR0 = 0x207 (x87, SSE, AVX, PKRU) and reports CPUID.0xD.0:EBX on port 0x8d.
        using var file = Temp(Programs.L1OsxsavePkeXsetbv().Bytes.AsSpan());
        var (_, hostJson, _) = Cpuidf("host", "skylake-sp", "--xcr0", "0x207", "--json");
        using var host = JsonDocument.Parse(hostJson);

        var (exit, output, _) = Cpuidf("exec", file.Path, "--json", "--policy", "lazy");

        Assert.Equal(ExitCodes.Ok, exit);
        using var json = JsonDocument.Parse(output);
        var d0 = json.RootElement.GetProperty("runs")[0].GetProperty("outputs").EnumerateArray().First(o => o.GetProperty("port").GetInt32() == 0x8D);
        Assert.Equal(host.RootElement.GetProperty("standardSize").GetUInt32(), d0.GetProperty("value").GetUInt32());
    }
}
