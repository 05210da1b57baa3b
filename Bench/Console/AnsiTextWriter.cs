using System.Text;
using Spectre.Console;

namespace CpuidFunctional.Bench.Console;

/// <summary>A <see cref="TextWriter"/> over a Spectre console, so System.CommandLine's help goes where the table goes.</summary>
internal sealed class AnsiTextWriter(IAnsiConsole console) : TextWriter
{
    /// <inheritdoc/>
    public override Encoding Encoding => Encoding.UTF8;

    /// <inheritdoc/>
    public override void Write(char value) => console.Write(value.ToString());

    /// <inheritdoc/>
    public override void Write(string? value)
    {
        if (value is not null)
        {
            console.Write(new Text(value));
        }
    }

    /// <inheritdoc/>
    public override void WriteLine(string? value)
    {
        Write(value);
        console.WriteLine();
    }
}
