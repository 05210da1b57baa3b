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

    /// <summary>Parses and runs a command line; an exception that escapes a command is an internal error (<see cref="Guarded"/>).</summary>
    public int Run(string[] args) => Guarded(() => Dispatch(args));

    /// <summary>
    /// Runs <paramref name="command"/>; an exception that escapes it is a bug in cpuidf, not bad input: one line on the
    /// error writer asking for a report, and <see cref="ExitCodes.InternalError"/>, never a stack trace.
    /// </summary>
    public int Guarded(Func<int> command)
    {
        try
        {
            return command();
        }
        catch (Exception e) // the one top-level handler: everything a command does not turn into a message is a bug
        {
            Error.WriteLine($"internal error: {e.GetType().Name}: {e.Message.ReplaceLineEndings(" ")} (this is a bug in cpuidf; please report it with the command line)");
            return ExitCodes.InternalError;
        }
    }

    private int Dispatch(string[] args)
    {
        var root = new RootCommand("cpuidf: check KVM's dynamic CPUID model (hosts, scenario files, exhaustive and random checks, guest binaries)")
        {
            HostCommand.Create(this),
            RunCommand.Create(this),
            CheckCommand.Create(this),
            ExecCommand.Create(this),
            RandomCommand.Create(this),
        };
        var parse = root.Parse(args);
        var configuration = new InvocationConfiguration { Output = Output, Error = Error, EnableDefaultExceptionHandler = false };
        if (parse.Errors.Count > 0 && !args.Any(a => a is "--help" or "-h" or "-?"))
        {
            foreach (var e in parse.Errors)
            {
                Error.WriteLine("error: " + e.Message);
            }
            Error.WriteLine("Run 'cpuidf --help' or 'cpuidf VERB --help' for usage.");
            return ExitCodes.BadInput;
        }
        return parse.Invoke(configuration);
    }
}
