using CpuidFunctional.Bench.Console;
using Spectre.Console;

namespace CpuidFunctional.Bench;

/// <summary>Entry point of <c>dotnet run -c Release --project Bench</c>.</summary>
internal static class BenchConsole
{
    public static int Main(string[] args)
    {
        var console = AnsiConsole.Console;
        if (!console.Profile.Capabilities.Interactive)
        {
            console.Profile.Width = 200; // redirected output: never wrap the table
        }
        return BenchCli.Run(args, console, System.Console.Error);
    }
}
