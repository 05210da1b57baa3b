using System.Diagnostics;
using System.Reflection;
using CpuidFunctional.Properties.Scenarios;

namespace CpuidFunctional.Properties.Packaging;

/// <summary>
/// The solution's packages, packed once with <c>dotnet pack --no-build</c> (the test run has just built them) into
/// a temporary folder. Every nested <c>dotnet</c> gets a private package cache and a private CLI home (where the
/// local-tool resolver caches a tool's path), so nothing from an earlier run of the same version is picked up and
/// nothing points into this run's deleted folder afterwards. The private home holds a copy of the user's NuGet.Config,
/// so restores use the machine's configured sources, plus the packed folder where a test adds it.
/// </summary>
public sealed class PackedPackages : IDisposable
{
#if DEBUG
    private const string Configuration = "Debug";
#else
    private const string Configuration = "Release";
#endif

    private static readonly TimeSpan CommandTimeout = TimeSpan.FromMinutes(5);

    public PackedPackages()
    {
        Root = Directory.CreateTempSubdirectory("cpuidf-pack-").FullName;
        Folder = Directory.CreateDirectory(Path.Combine(Root, "packages")).FullName;
        var userNuGetConfig = Path.Combine(CliHome(), ".nuget", "NuGet", "NuGet.Config");
        if (File.Exists(userNuGetConfig))
        {
            var copy = Directory.CreateDirectory(Path.Combine(Root, "home", ".nuget", "NuGet")).FullName;
            File.Copy(userNuGetConfig, Path.Combine(copy, "NuGet.Config"));
        }
        Run(RepositoryFiles.Checkout, "pack", "CpuidFunctional.sln", "-c", Configuration, "--no-build", "--no-restore", "-o", Folder).ShouldSucceed();
    }

    /// <summary>The version every package carries: the one Core was built with, without the commit suffix.</summary>
    public static string Version { get; } =
        typeof(Kvm).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()!.InformationalVersion.Split('+')[0];

    /// <summary>The temporary folder holding the packages, the cache and the work folders; deleted on dispose.</summary>
    public string Root { get; }

    /// <summary>The folder the .nupkg and .snupkg files were packed into.</summary>
    public string Folder { get; }

    /// <summary>A new empty folder under <see cref="Root"/>.</summary>
    public string WorkFolder(string name) => Directory.CreateDirectory(Path.Combine(Root, name)).FullName;

    /// <summary>Runs <c>dotnet ARGS</c> in <paramref name="directory"/> with the private package cache.</summary>
    public CommandResult Run(string directory, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        // The test host inherits the outer 'dotnet test' MSBuild settings; a nested dotnet must choose its own.
        foreach (var name in start.Environment.Keys.Where(k => k.StartsWith("MSBUILD", StringComparison.OrdinalIgnoreCase)).ToArray())
        {
            start.Environment.Remove(name);
        }
        start.Environment["NUGET_PACKAGES"] = Path.Combine(Root, "nuget-cache");
        start.Environment["DOTNET_CLI_HOME"] = Path.Combine(Root, "home");
        start.Environment["DOTNET_NOLOGO"] = "1";
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        // No build servers outlive the command: a reused MSBuild node or compiler server would keep this run's
        // private cache as its own and could still be writing there while Dispose deletes the folder.
        start.Environment["MSBUILDDISABLENODEREUSE"] = "1";
        start.Environment["DOTNET_CLI_USE_MSBUILD_SERVER"] = "0";
        start.Environment["UseSharedCompilation"] = "false";

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        var finished = process.WaitForExit(CommandTimeout);
        if (!finished)
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
        }
        var command = $"(in {directory}) dotnet {string.Join(' ', args)}{(finished ? "" : $" (killed after {CommandTimeout})")}";
        return new CommandResult(command, process.ExitCode, output.Result, error.Result);
    }

    /// <summary>
    /// The processes (pid and command) whose environment points at this run's private package cache: on Linux, read
    /// from /proc; elsewhere none are found. After a command has returned there should be none.
    /// </summary>
    public IReadOnlyList<string> ProcessesUsingTheCache()
    {
        var marker = $"NUGET_PACKAGES={Path.Combine(Root, "nuget-cache")}";
        var found = new List<string>();
        foreach (var dir in Directory.Exists("/proc") ? Directory.EnumerateDirectories("/proc") : [])
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid))
            {
                continue;
            }
            try
            {
                if (File.ReadAllText(Path.Combine(dir, "environ")).Split('\0').Contains(marker))
                {
                    found.Add($"{pid} {File.ReadAllText(Path.Combine(dir, "cmdline")).Replace('\0', ' ').Trim()}");
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // the process ended while we looked, or is not ours to read
            }
        }
        return found;
    }

    /// <summary>Where the dotnet CLI and NuGet keep per-user files: DOTNET_CLI_HOME, else the user's home.</summary>
    private static string CliHome() =>
        Environment.GetEnvironmentVariable("DOTNET_CLI_HOME") is { Length: > 0 } home ? home : Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);

    /// <summary>
    /// Deletes the temporary folder. A process that outlived its command (one killed on timeout, say) may still be
    /// finishing a write there, so a failed delete is retried briefly; a folder that still cannot be deleted is left
    /// in the temporary directory rather than failing the tests that already ran.
    /// </summary>
    public void Dispose()
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                Directory.Delete(Root, recursive: true);
                return;
            }
            catch (IOException) when (attempt < 10)
            {
                Thread.Sleep(TimeSpan.FromMilliseconds(200));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Console.Error.WriteLine($"warning: could not delete {Root}: {e.Message}");
                return;
            }
        }
    }
}

/// <summary>What a <c>dotnet</c> command printed and how it exited.</summary>
public sealed record CommandResult(string Command, int Exit, string Output, string Error)
{
    /// <summary>Fails, quoting the command and everything it printed, unless it exited 0.</summary>
    public CommandResult ShouldSucceed()
    {
        Assert.True(Exit == 0, $"{Command} exited {Exit}:\n{Output}\n{Error}");
        return this;
    }
}
