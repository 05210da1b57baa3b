using System.Text.RegularExpressions;
using CpuidFunctional.Properties.Scenarios;
using static CpuidFunctional.Properties.CliTool.CliRunner;

namespace CpuidFunctional.Properties.Docs;

/// <summary>
/// A plain <c>```</c> block in docs/ or the README whose first line is <c>$ cpuidf check ...</c> is a transcript:
/// the rest of the block is exactly what that command prints on stdout (the elapsed time and states per second, which
/// depend on the machine, go to stderr as 'time:' lines). Each one is run in-process and compared line by line.
/// </summary>
public partial class CheckTranscriptTests
{
    private const string Prompt = "$ cpuidf check ";

    /// <summary>"time: LABEL: 7.19 s, 6,514 states/s": the only machine-dependent output, on stderr.</summary>
    [GeneratedRegex(@"^time: .+: \d+\.\d+ s, [\d,]+ states/s$")]
    private static partial Regex Timing();

    public static TheoryData<string, int> Transcripts()
    {
        var data = new TheoryData<string, int>();
        foreach (var (file, line, _, _) in All())
        {
            data.Add(file, line);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Transcripts))]
    public void A_cpuidf_check_transcript_in_the_docs_is_what_cpuidf_prints(string file, int line)
    {
        var (_, _, command, expected) = All().Single(t => t.File == file && t.Line == line);

        var (_, output, error) = Cpuidf(command.Split(' ', StringSplitOptions.RemoveEmptyEntries));

        var stray = Lines(error).Where(l => !Timing().IsMatch(l)).ToList();
        Assert.True(stray.Count == 0, $"{file}:{line}: cpuidf wrote to stderr more than its timing: {string.Join('\n', stray)}");
        Assert.Equal(Lines(expected), Lines(output));
    }

    [Fact]
    public void The_docs_have_check_transcripts() => Assert.True(All().Count >= 2, "no '$ cpuidf check' transcripts found in docs/ and README.md");

    [Theory]
    [InlineData("check --host skylake-sp --kernel 6.15 --policy eager lazy-unfixed --chain --threads 2")]
    [InlineData("random --traces 40 --seed 7")]
    public void The_same_command_prints_byte_identical_stdout_and_puts_its_timing_on_stderr(string command)
    {
        var args = command.Split(' ');
        var (_, first, firstError) = Cpuidf(args);
        var (_, second, _) = Cpuidf(args);

        Assert.Equal(first, second);
        Assert.StartsWith("time: ", firstError, StringComparison.Ordinal);
        Assert.DoesNotContain(" s, ", first, StringComparison.Ordinal);
    }

    private static string[] Lines(string text) => [.. text.ReplaceLineEndings("\n").TrimEnd('\n').Split('\n').Select(l => l.TrimEnd())];

    private static List<(string File, int Line, string Command, string Output)> All()
    {
        var transcripts = new List<(string, int, string, string)>();
        foreach (var path in RepositoryFiles.Documentation)
        {
            var lines = File.ReadAllLines(path);
            for (var i = 0; i < lines.Length; i++)
            {
                if (!lines[i].StartsWith("```", StringComparison.Ordinal))
                {
                    continue;
                }
                var open = i;
                var close = Array.FindIndex(lines, open + 1, l => l.Trim() == "```");
                i = close < 0 ? lines.Length : close;
                if (lines[open].Trim() == "```" && close > open + 1 && lines[open + 1].StartsWith(Prompt, StringComparison.Ordinal))
                {
                    var command = lines[open + 1]["$ cpuidf ".Length..];
                    transcripts.Add((Path.GetRelativePath(RepositoryFiles.Checkout, path), open + 2, command, string.Join('\n', lines[(open + 2)..close])));
                }
            }
        }
        return transcripts;
    }
}
