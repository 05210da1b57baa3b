using System.IO.Compression;
using System.Xml.Linq;
using CpuidFunctional.Properties.Scenarios;

namespace CpuidFunctional.Properties.Packaging;

/// <summary>
/// What a user gets from <c>dotnet pack</c> (issue 16): the cpuidf .NET tool installs from the packed folder and
/// runs, and a fresh console app restores the Core package and runs the worked example of docs/model-checking.md.
/// Restores need the machine's package source for nothing but the SDK's own packages; when it is unreachable the
/// failure quotes NuGet's error.
/// </summary>
public class ToolAndPackageTests(PackedPackages packages) : IClassFixture<PackedPackages>
{
    private static readonly string[] Libraries = ["CpuidFunctional.Core", "CpuidFunctional.Interpreter", "CpuidFunctional.Oracle"];

    [Fact]
    public void Pack_makes_the_three_libraries_and_the_tool_each_with_symbols_and_nothing_else()
    {
        var expected = Libraries.Append("cpuidf")
            .SelectMany(id => new[] { $"{id}.{PackedPackages.Version}.nupkg", $"{id}.{PackedPackages.Version}.snupkg" })
            .Order(StringComparer.Ordinal);
        var packed = Directory.GetFiles(packages.Folder).Select(Path.GetFileName).Order(StringComparer.Ordinal);
        Assert.Equal(expected, packed);
    }

    [Theory]
    [InlineData("CpuidFunctional.Core")]
    [InlineData("CpuidFunctional.Interpreter")]
    [InlineData("CpuidFunctional.Oracle")]
    [InlineData("cpuidf")]
    public void A_package_carries_a_licence_a_readme_a_description_and_its_commit(string id)
    {
        var (metadata, files) = Read(id);
        XNamespace ns = metadata.Name.Namespace;
        Assert.Equal("MIT", metadata.Element(ns + "license")?.Value);
        Assert.Equal("README.md", metadata.Element(ns + "readme")?.Value);
        Assert.Contains("README.md", files);
        Assert.False(string.IsNullOrWhiteSpace(metadata.Element(ns + "description")?.Value), $"{id} has no description");
        Assert.Matches("^[0-9a-f]{40}$", metadata.Element(ns + "repository")?.Attribute("commit")?.Value ?? "");
    }

    [Theory]
    [InlineData("CpuidFunctional.Interpreter")]
    [InlineData("CpuidFunctional.Oracle")]
    public void A_library_above_Core_depends_on_the_Core_package_of_the_same_version(string id)
    {
        var (metadata, _) = Read(id);
        var core = metadata.Descendants(metadata.Name.Namespace + "dependency").SingleOrDefault(d => d.Attribute("id")?.Value == "CpuidFunctional.Core");
        Assert.True(core is not null, $"{id} does not depend on CpuidFunctional.Core:\n{metadata}");
        Assert.Equal(PackedPackages.Version, core.Attribute("version")?.Value);
    }

    [Fact]
    public void The_cpuidf_tool_installs_from_the_packed_folder_into_a_local_manifest_and_runs()
    {
        var folder = packages.WorkFolder("tool");
        packages.Run(folder, "new", "tool-manifest").ShouldSucceed();
        packages.Run(folder, "tool", "install", "cpuidf", "--version", PackedPackages.Version, "--add-source", packages.Folder).ShouldSucceed();

        var version = packages.Run(folder, "cpuidf", "--version").ShouldSucceed();
        Assert.StartsWith(PackedPackages.Version + "+", version.Output.Trim(), StringComparison.Ordinal);
        var host = packages.Run(folder, "cpuidf", "host", "skylake-sp").ShouldSucceed();
        Assert.Contains("skylake-sp (GenuineIntel)", host.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void A_console_app_restores_the_Core_package_and_runs_the_model_checking_example_from_the_docs()
    {
        var folder = packages.WorkFolder("consumer");
        File.WriteAllText(
            Path.Combine(folder, "nuget.config"),
            $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <add key="cpuidf-packed" value="{packages.Folder}" />
              </packageSources>
            </configuration>
            """
        );
        File.WriteAllText(
            Path.Combine(folder, "Consumer.csproj"),
            $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <ImplicitUsings>enable</ImplicitUsings>
                <Nullable>enable</Nullable>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="CpuidFunctional.Core" Version="{PackedPackages.Version}" />
              </ItemGroup>
            </Project>
            """
        );
        var usings = typeof(Kvm).Assembly.GetExportedTypes().Select(t => t.Namespace).OfType<string>().Distinct().Order(StringComparer.Ordinal);
        File.WriteAllText(Path.Combine(folder, "Program.cs"), string.Concat(usings.Select(n => $"using {n};\n")) + WorkedExample());

        var run = packages.Run(folder, "run", "-c", "Release").ShouldSucceed();
        Assert.Contains("Violated: 11 states, 46 transitions", run.Output, StringComparison.Ordinal);
        Assert.Contains("lazy-unfixed: -EINVAL", run.Output, StringComparison.Ordinal);
        var lingering = packages.ProcessesUsingTheCache();
        Assert.True(lingering.Count == 0, $"build servers outlived 'dotnet run' (the fixture's Dispose would race them): {string.Join(", ", lingering)}");
    }

    /// <summary>The csharp block of docs/model-checking.md that prints its result: the worked example.</summary>
    private static string WorkedExample()
    {
        var text = File.ReadAllText(Path.Combine(RepositoryFiles.Checkout, "docs", "model-checking.md")).ReplaceLineEndings("\n");
        var blocks = text.Split("```csharp\n").Skip(1).Select(b => b[..b.IndexOf("```", StringComparison.Ordinal)]).ToArray();
        var printing = blocks.Where(b => b.Contains("Console.WriteLine(result)", StringComparison.Ordinal)).ToArray();
        Assert.True(printing.Length == 1, $"expected one csharp block in docs/model-checking.md that prints its result, found {printing.Length}");
        return printing[0];
    }

    private (XElement Metadata, string[] Files) Read(string id)
    {
        using var zip = ZipFile.OpenRead(Path.Combine(packages.Folder, $"{id}.{PackedPackages.Version}.nupkg"));
        var nuspec = zip.Entries.Single(e => e.FullName == $"{id}.nuspec");
        using var stream = nuspec.Open();
        var root = XDocument.Load(stream).Root!;
        return (root.Element(root.Name.Namespace + "metadata")!, [.. zip.Entries.Select(e => e.FullName)]);
    }
}
