using CpuidFunctional.Cli;
using CpuidFunctional.Core.Scenarios;

namespace CpuidFunctional.Properties.Scenarios;

/// <summary>
/// Every file in scenarios/ runs under Eager, Lazy and Reference and passes, and fails under each wrong variant its
/// <c>caught-by</c> lines name; every wrong variant is named by at least one file.
/// </summary>
public class ScenarioFileTests
{
    public static TheoryData<string> Files =>
        new(Directory.GetFiles(RepositoryFiles.ScenarioFolder, "*.scn").Select(Path.GetFileName).Order(StringComparer.Ordinal)!);

    [Theory]
    [MemberData(nameof(Files))]
    public void Scenario_passes_under_every_correct_policy(string file)
    {
        var outcome = ScenarioFiles.Run(Path.Combine(RepositoryFiles.ScenarioFolder, file));

        if (outcome is Result<ScenarioReport>.Error(var problem))
        {
            Assert.Fail(problem.ToString());
        }
        var report = ((Result<ScenarioReport>.Ok)outcome).Value;
        Assert.True(report.Passed, report.ToString());
        Assert.True(report.Expectations > 0, $"{file} checks nothing");
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void Scenario_fails_under_every_variant_it_says_it_catches(string file)
    {
        var outcome = ScenarioFiles.CaughtBy(Path.Combine(RepositoryFiles.ScenarioFolder, file));

        if (outcome is Result<IReadOnlyList<(string Variant, ScenarioReport Report)>>.Error(var problem))
        {
            Assert.Fail(problem.ToString());
        }
        foreach (var (variant, report) in ((Result<IReadOnlyList<(string Variant, ScenarioReport Report)>>.Ok)outcome).Value)
        {
            Assert.False(report.Passed, $"{file} says it is caught by {variant}, but it passes with Lazy running {variant}");
        }
    }

    [Fact]
    public void Every_wrong_variant_has_a_regression_scenario()
    {
        var named = Directory.GetFiles(RepositoryFiles.ScenarioFolder, "*.scn")
            .SelectMany(f => ((Result<Scenario>.Ok)ScenarioParser.Parse(File.ReadAllText(f), Path.GetFileName(f))).Value.CaughtBy.Select(c => c.Variant))
            .ToHashSet(StringComparer.OrdinalIgnoreCase);
        var missing = CpuidFunctional.Core.Checking.WrongRules.All.Select(r => r.Name).Where(n => !named.Contains(n)).ToList();
        Assert.True(missing.Count == 0, "no scenario says 'caught-by' for: " + string.Join(", ", missing));
    }

    [Fact]
    public void An_unknown_variant_in_caught_by_is_an_error_with_its_file_and_line()
    {
        var path = Path.Combine(Path.GetTempPath(), $"cpuidf-caught-by-{Guid.NewGuid():N}.scn");
        File.WriteAllText(path, "host skylake-sp\nset-cpuid2\ncpuid 1\nexpect ecx.OSXSAVE=0\ncaught-by ForgetCr4Trigger NoSuchBug\n");
        try
        {
            var outcome = ScenarioFiles.CaughtBy(path);
            var problem = Assert.IsType<Result<IReadOnlyList<(string Variant, ScenarioReport Report)>>.Error>(outcome).Problem;
            Assert.Equal(5, problem.Line);
            Assert.Contains("unknown variant 'NoSuchBug'", problem.ToString(), StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void An_unknown_host_preset_is_an_error_at_the_host_line()
    {
        var path = Path.Combine(Path.GetTempPath(), $"cpuidf-host-{Guid.NewGuid():N}.scn");
        File.WriteAllText(path, "# a comment\n\nhost nosuch\nset-cpuid2\ncpuid 1\nexpect ecx.OSXSAVE=0\n");
        try
        {
            var problem = Assert.IsType<Result<ScenarioReport>.Error>(ScenarioFiles.Run(path)).Problem;
            Assert.Equal(3, problem.Line);
            Assert.Contains("unknown host preset 'nosuch'", problem.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
