using CpuidFunctional.Cli;
using Spectre.Console.Testing;

namespace CpuidFunctional.Properties.CliTool;

/// <summary>
/// The verbs that draw progress, on a console that says it is interactive (as a real terminal does): every other
/// CLI test uses a plain console, which skips the progress drawing entirely.
/// </summary>
public class InteractiveConsoleTests
{
    private static (int Exit, string Output, string Screen) Interactive(params string[] args)
    {
        var console = new TestConsole().Interactive().SupportsAnsi(true).EmitAnsiSequences().Width(160);
        using var output = new StringWriter();
        using var error = new StringWriter();
        var exit = new CpuidfApp(output, error, console).Run(args);
        return (exit, output + error.ToString(), console.Output);
    }

    [Fact]
    public void Check_draws_its_progress_on_an_interactive_console_although_the_label_has_brackets()
    {
        // The label "[eager, lazy, reference]" once went to Spectre as markup: "Could not find color or style 'Eager,'".
        var (exit, output, screen) = Interactive("check", "--host", "skylake-sp", "--kernel", "6.15", "--depth", "2");

        Assert.True(exit == 0, output + screen);
        Assert.Contains("[eager, lazy, reference]", screen + output, StringComparison.Ordinal);
    }

    [Fact]
    public void Random_draws_its_progress_on_an_interactive_console()
    {
        var (exit, output, screen) = Interactive("random", "--traces", "50");

        Assert.True(exit == 0, output + screen);
        Assert.Contains("random traces", screen, StringComparison.Ordinal);
    }
}
