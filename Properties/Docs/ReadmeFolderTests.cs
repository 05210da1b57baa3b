using System.Text.RegularExpressions;
using CpuidFunctional.Properties.Scenarios;

namespace CpuidFunctional.Properties.Docs;

/// <summary>
/// The README's Folders table matches the checkout: one row per top-level folder, each row names every folder
/// directly inside its folder as <c>`Name/`</c>, and the docs row links every file of docs/.
/// </summary>
public partial class ReadmeFolderTests
{
    /// <summary>A table row: <c>| `Folder/` | what |</c>.</summary>
    [GeneratedRegex(@"^\| `([^`]+)/` \| (.*) \|$")]
    private static partial Regex Row();

    /// <summary>A folder named inside a row's description: <c>`Name/`</c>, one path segment.</summary>
    [GeneratedRegex(@"`([A-Za-z0-9_.-]+)/`")]
    private static partial Regex Folder();

    /// <summary>A link to a doc: <c>(docs/name.md)</c>, optionally with an anchor.</summary>
    [GeneratedRegex(@"\(docs/([A-Za-z0-9_.-]+\.md)(#[^)]*)?\)")]
    private static partial Regex DocLink();

    private static string Root => RepositoryFiles.Checkout;

    /// <summary>The README's Folders table: folder to description.</summary>
    private static Dictionary<string, string> Table()
    {
        var lines = File.ReadAllLines(Path.Combine(Root, "README.md"));
        var start = Array.IndexOf(lines, "## Folders");
        Assert.True(start >= 0, "README.md has no '## Folders' section");
        return lines
            .Skip(start + 1)
            .TakeWhile(l => !l.StartsWith("## ", StringComparison.Ordinal))
            .Select(l => Row().Match(l))
            .Where(m => m.Success)
            .ToDictionary(m => m.Groups[1].Value, m => m.Groups[2].Value, StringComparer.Ordinal);
    }

    /// <summary>
    /// The folders directly inside a folder, without hidden folders and the folders .gitignore names (build output,
    /// and what tools leave behind: BenchmarkDotNet's artifacts after a benchmark run, Stryker's output).
    /// </summary>
    private static List<string> SubfoldersOf(string path) =>
        [
            .. new DirectoryInfo(path)
                .GetDirectories()
                .Select(d => d.Name)
                .Where(n => !n.StartsWith('.') && !IgnoredFolders.Contains(n))
                .Order(StringComparer.Ordinal),
        ];

    /// <summary>The folder names .gitignore lists (its lines ending in a slash).</summary>
    private static readonly HashSet<string> IgnoredFolders =
    [
        .. File.ReadAllLines(Path.Combine(Root, ".gitignore"))
            .Select(line => line.Trim())
            .Where(line => line.EndsWith('/') && !line.StartsWith('#'))
            .Select(line => line.Trim('/')),
    ];

    /// <summary>Fails listing what the README misses and what it names that is not there.</summary>
    private static void AssertSame(string what, IEnumerable<string> existing, IEnumerable<string> named)
    {
        var missing = existing.Except(named).ToList();
        var extra = named.Except(existing).ToList();
        Assert.True(
            missing.Count == 0 && extra.Count == 0,
            $"README.md, {what}: not named: [{string.Join(", ", missing)}]; named but not there: [{string.Join(", ", extra)}]"
        );
    }

    [Fact]
    public void The_folders_table_has_one_row_per_top_level_folder() => AssertSame("Folders table", SubfoldersOf(Root), Table().Keys);

    public static TheoryData<string> TopLevelFolders() => new(SubfoldersOf(Root));

    [Theory]
    [MemberData(nameof(TopLevelFolders))]
    public void A_row_names_exactly_the_folders_inside_its_folder(string folder)
    {
        var description = Table().GetValueOrDefault(folder) ?? throw new InvalidOperationException($"README.md has no row for `{folder}/`");

        var named = Folder().Matches(description).Select(m => m.Groups[1].Value);

        AssertSame($"the row of `{folder}/`", SubfoldersOf(Path.Combine(Root, folder)), named);
    }

    [Fact]
    public void The_docs_row_links_every_doc()
    {
        var docs = Directory.GetFiles(Path.Combine(Root, "docs"), "*.md").Select(f => Path.GetFileName(f));

        var linked = DocLink().Matches(Table()["docs"]).Select(m => m.Groups[1].Value);

        AssertSame("the docs row's links", docs, linked);
    }
}
