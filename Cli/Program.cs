using Spectre.Console;

namespace CpuidFunctional.Cli;

/// <summary>The <c>cpuidf</c> entry point.</summary>
public static class Program
{
    /// <summary>Runs the command line against the process console.</summary>
    public static int Main(string[] args) => new CpuidfApp(System.Console.Out, System.Console.Error, AnsiConsole.Console).Run(args);
}
