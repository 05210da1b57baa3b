using CpuidFunctional.Cli;

namespace CpuidFunctional.Properties.CliTool;

/// <summary>Runs cpuidf in-process and captures what it printed.</summary>
internal static class CliRunner
{
    public static (int Exit, string Output, string Error) Cpuidf(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var exit = new CpuidfApp(output, error).Run(args);
        return (exit, output.ToString(), error.ToString());
    }

    /// <summary>A temporary file with these bytes, deleted on dispose.</summary>
    public static TempFile Temp(ReadOnlySpan<byte> bytes, string extension = ".bin")
    {
        var path = Path.Combine(Path.GetTempPath(), $"cpuidf-{Guid.NewGuid():N}{extension}");
        File.WriteAllBytes(path, bytes.ToArray());
        return new TempFile(path);
    }

    public sealed class TempFile(string path) : IDisposable
    {
        public string Path { get; } = path;

        public void Dispose() => File.Delete(Path);
    }
}
