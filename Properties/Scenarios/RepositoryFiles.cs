namespace CpuidFunctional.Properties.Scenarios;

/// <summary>Finds the repository's scenarios/ folder from the test binary's location.</summary>
internal static class RepositoryFiles
{
    public static string ScenarioFolder { get; } = Find();

    private static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "scenarios");
            if (File.Exists(Path.Combine(dir.FullName, "CpuidFunctional.sln")) && Directory.Exists(candidate))
            {
                return candidate;
            }
        }
        throw new DirectoryNotFoundException("no scenarios/ folder above " + AppContext.BaseDirectory);
    }
}
