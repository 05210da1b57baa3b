namespace CpuidFunctional.Properties.Scenarios;

/// <summary>Finds the repository (the folder holding CpuidFunctional.sln) and its scenarios/ folder from the test binary's location.</summary>
internal static class RepositoryFiles
{
    /// <summary>The repository root above the test binary, or null when the binary runs outside a checkout.</summary>
    public static string? Root { get; } = FindRoot();

    /// <summary>The repository root above the test binary; throws when the binary runs outside a checkout.</summary>
    public static string Checkout => Root ?? throw new DirectoryNotFoundException("no CpuidFunctional.sln above " + AppContext.BaseDirectory);

    /// <summary>The Markdown files that document the project, docs/*.md and README.md, in ordinal order.</summary>
    public static IEnumerable<string> Documentation =>
        Directory.GetFiles(Path.Combine(Checkout, "docs"), "*.md").Append(Path.Combine(Checkout, "README.md")).Order(StringComparer.Ordinal);

    /// <summary>The repository's scenarios/ folder.</summary>
    public static string ScenarioFolder =>
        Root is { } root && Directory.Exists(Path.Combine(root, "scenarios"))
            ? Path.Combine(root, "scenarios")
            : throw new DirectoryNotFoundException("no scenarios/ folder above " + AppContext.BaseDirectory);

    private static string? FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "CpuidFunctional.sln")))
            {
                return dir.FullName;
            }
        }
        return null;
    }
}
