using CpuidFunctional.Cli;
using CpuidFunctional.Core;
using CpuidFunctional.Core.Scenarios;

namespace CpuidFunctional.Properties.Scenarios;

/// <summary>Every file in scenarios/ runs under Eager, Lazy and Reference and passes.</summary>
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
}
