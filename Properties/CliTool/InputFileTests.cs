using CpuidFunctional.Cli;
using CpuidFunctional.Interpreter.Machine;
using CpuidFunctional.Properties.Scenarios;
using static CpuidFunctional.Properties.CliTool.CliRunner;

namespace CpuidFunctional.Properties.CliTool;

/// <summary>Input files are read bounded and only if regular; nothing reaches the console as a stack trace.</summary>
public class InputFileTests
{
    [Theory]
    [InlineData("exec")]
    [InlineData("host")]
    [InlineData("run")]
    public void A_device_file_is_refused_as_not_a_regular_file_with_exit_2(string verb)
    {
        Assert.SkipUnless(File.Exists("/dev/zero"), "needs /dev/zero");

        var (exit, _, error) = Cpuidf(verb, "/dev/zero");

        Assert.Equal(ExitCodes.BadInput, exit);
        Assert.Equal("error: /dev/zero: cannot read the file: not a regular file (its size is 0 bytes but it yields more: a device, pipe or pseudo-file?)" + Environment.NewLine, error);
    }

    [Fact]
    public void A_host_dump_from_dev_zero_given_to_check_is_refused_with_exit_2()
    {
        Assert.SkipUnless(File.Exists("/dev/zero"), "needs /dev/zero");

        var (exit, _, error) = Cpuidf("check", "--host", "/dev/zero");

        Assert.Equal(ExitCodes.BadInput, exit);
        Assert.Contains("/dev/zero: cannot read the file: not a regular file", error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_program_one_byte_over_the_limit_is_refused_naming_its_size_and_the_limit()
    {
        using var program = Temp(new byte[MachineLayout.MaxProgramSize + 1]);

        var (exit, _, error) = Cpuidf("exec", program.Path);

        Assert.Equal(ExitCodes.BadInput, exit);
        Assert.Contains($"{program.Path}: cannot read the file: the file has {MachineLayout.MaxProgramSize + 1} bytes, more than the {MachineLayout.MaxProgramSize} accepted", error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_directory_is_refused_as_a_directory()
    {
        var (exit, _, error) = Cpuidf("host", Path.GetTempPath());

        Assert.Equal(ExitCodes.BadInput, exit);
        Assert.Contains("cannot read the file: a directory, not a file", error, StringComparison.Ordinal);
    }

    [Fact]
    public void An_exception_escaping_a_command_is_a_one_line_internal_error_with_exit_70()
    {
        using var output = new StringWriter();
        using var error = new StringWriter();

        var exit = new CpuidfApp(output, error).Guarded(() => throw new InvalidOperationException("two\nlines"));

        Assert.Equal(ExitCodes.InternalError, exit);
        Assert.Equal(70, exit);
        Assert.Equal("", output.ToString());
        var line = Assert.Single(error.ToString().Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal("internal error: InvalidOperationException: two lines (this is a bug in cpuidf; please report it with the command line)", line);
    }

    [Fact]
    public void Docs_cli_md_lists_every_exit_code_cpuidf_has()
    {
        var doc = File.ReadAllLines(Path.Combine(RepositoryFiles.Checkout, "docs", "cli.md"));
        var codes = typeof(ExitCodes).GetFields().Select(f => (int)f.GetRawConstantValue()!).Order().ToArray();

        var listed = doc.SkipWhile(l => l != "## Exit codes").Skip(1).TakeWhile(l => !l.StartsWith("## ", StringComparison.Ordinal))
            .Where(l => l.StartsWith("| ", StringComparison.Ordinal) && l.Length > 2 && char.IsAsciiDigit(l[2]))
            .Select(l => int.Parse(l.Split('|', StringSplitOptions.TrimEntries)[1], System.Globalization.CultureInfo.InvariantCulture))
            .ToArray();

        Assert.Equal(codes, listed);
    }
}
