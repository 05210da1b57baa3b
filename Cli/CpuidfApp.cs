using System.CommandLine;
using Spectre.Console;

namespace CpuidFunctional.Cli;

/// <summary>
/// The <c>cpuidf</c> command tree bound to an output and an error writer, so tests can run it in-process and read
/// what it printed. <see cref="Run"/> returns the exit code (<see cref="ExitCodes"/>).
/// </summary>
public sealed class CpuidfApp
{
    /// <summary>An app writing to these writers; <paramref name="console"/> defaults to a plain console on <paramref name="output"/>.</summary>
    public CpuidfApp(TextWriter output, TextWriter error, IAnsiConsole? console = null)
    {
        Output = output;
        Error = error;
        Console = console
            ?? AnsiConsole.Create(
                new AnsiConsoleSettings
                {
                    Out = new AnsiConsoleOutput(output),
                    Ansi = AnsiSupport.No,
                    ColorSystem = ColorSystemSupport.NoColors,
                    Interactive = InteractionSupport.No,
                }
            );
    }

    /// <summary>Where results go.</summary>
    public TextWriter Output { get; }

    /// <summary>Where errors go.</summary>
    public TextWriter Error { get; }

    /// <summary>The console for tables and progress.</summary>
    public IAnsiConsole Console { get; }

    /// <summary>Prints an error and returns <see cref="ExitCodes.BadInput"/>.</summary>
    public int Fail(string message)
    {
        Error.WriteLine("error: " + message);
        return ExitCodes.BadInput;
    }

    /// <summary>Parses and runs a command line (<see cref="ToolRunner.Run"/>: parse errors are exit 2, escaped exceptions 70).</summary>
    public int Run(string[] args) =>
        ToolRunner.Run(
            "cpuidf",
            new RootCommand("cpuidf: check KVM's dynamic CPUID model (hosts, scenario files, exhaustive and random checks, guest binaries)")
            {
                HostCommand.Create(this),
                RunCommand.Create(this),
                CheckCommand.Create(this),
                ExecCommand.Create(this),
                RandomCommand.Create(this),
            },
            args,
            Output,
            Error
        );

    /// <summary>Runs <paramref name="command"/> as <see cref="ToolRunner.Guarded"/> does: an escaped exception is exit 70.</summary>
    public int Guarded(Func<int> command) => ToolRunner.Guarded("cpuidf", Error, command);
}
