using System.CommandLine;
using System.CommandLine.Invocation;

namespace CpuidFunctional.Cli;

/// <summary>
/// How each tool (<c>cpuidf</c>, the Bench console) runs its command line, so they share the exit codes of
/// <see cref="ExitCodes"/>: a parse error prints System.CommandLine's own messages and typo suggestions ("Did you
/// mean ...?") on the error writer and is <see cref="ExitCodes.BadInput"/> (the library's own code would be 1, which
/// means a failed check here); an exception escaping a command is <see cref="ExitCodes.InternalError"/>.
/// </summary>
public static class ToolRunner
{
    /// <summary>Parses <paramref name="args"/> against <paramref name="root"/> and runs the chosen command.</summary>
    public static int Run(string tool, RootCommand root, string[] args, TextWriter output, TextWriter error) =>
        Guarded(tool, error, () =>
        {
            var parse = root.Parse(args);
            if (parse.Action is ParseErrorAction errors)
            {
                errors.ShowHelp = false;
                errors.ShowTypoCorrections = true;
                // The suggestions go to the configuration's Output: both go to the error writer, stdout stays clean.
                parse.Invoke(new InvocationConfiguration { Output = error, Error = error, EnableDefaultExceptionHandler = false });
                var verb = parse.CommandResult.Command is RootCommand ? "" : " " + parse.CommandResult.Command.Name;
                error.WriteLine($"Run '{tool}{verb} --help' for usage.");
                return ExitCodes.BadInput;
            }
            return parse.Invoke(new InvocationConfiguration { Output = output, Error = error, EnableDefaultExceptionHandler = false });
        });

    /// <summary>
    /// Runs <paramref name="command"/>; an exception that escapes it is a bug in the tool, not bad input: one line on the
    /// error writer asking for a report, and <see cref="ExitCodes.InternalError"/>, never a stack trace.
    /// </summary>
    public static int Guarded(string tool, TextWriter error, Func<int> command)
    {
        try
        {
            return command();
        }
        catch (Exception e) // the one top-level handler: everything a command does not turn into a message is a bug
        {
            error.WriteLine($"internal error: {e.GetType().Name}: {e.Message.ReplaceLineEndings(" ")} (this is a bug in {tool}; please report it with the command line)");
            return ExitCodes.InternalError;
        }
    }
}
