using static CpuidFunctional.Properties.Host.HostTestData;

namespace CpuidFunctional.Properties.Host;

/// <summary>Malformed <c>cpuid -r</c> input is an error naming the source, the 1-based line and the problem.</summary>
public class CpuidRawParseErrorTests
{
    private const string Good = "   0x00000000 0x00: eax=0x00000016 ebx=0x756e6547 ecx=0x6c65746e edx=0x49656e69";

    /// <summary>A plausible capture whose fourth line is <paramref name="badLine"/>.</summary>
    private static string CaptureWithLine4(string badLine) =>
        string.Join('\n', "# hand-made", "CPU 0:", Good, badLine, "   0x00000002 0x00: eax=0x00000000 ebx=0x00000000 ecx=0x00000000 edx=0x00000000", "");

    // the bad line, what the message must say
    public static TheoryData<string, string> MalformedLines => new()
    {
        { "   0x0000000g 0x00: eax=0x00000000 ebx=0x00000000 ecx=0x00000000 edx=0x00000000", "leaf: expected 8 hex digits after '0x', found '0000000g'" },
        { "   0x0001 0x00: eax=0x00000000 ebx=0x00000000 ecx=0x00000000 edx=0x00000000", "leaf: expected 8 hex digits after '0x', found '0001'" },
        { "   0x00000001: eax=0x00000000 ebx=0x00000000 ecx=0x00000000 edx=0x00000000", "sub-leaf: expected ' 0xSS' after leaf 0x00000001, found ':'" },
        { "   0x00000001 00: eax=0x00000000 ebx=0x00000000 ecx=0x00000000 edx=0x00000000", "sub-leaf: expected ' 0xSS' after leaf 0x00000001, found '00:'" },
        { "   0x00000001 0xzz: eax=0x00000000 ebx=0x00000000 ecx=0x00000000 edx=0x00000000", "sub-leaf: expected 1 to 8 hex digits after '0x', found 'zz'" },
        { "   0x00000001 0x00 eax=0x00000000 ebx=0x00000000 ecx=0x00000000 edx=0x00000000", "expected ':' after sub-leaf 0x00, found a space" },
        { "   0x00000001 0x00:", "eax: expected ' eax=0x' and 8 hex digits, found end of line" },
        { "   0x00000001 0x00: eax=0x00000000 ebx=0x0000000z ecx=0x00000000 edx=0x00000000", "ebx: expected 8 hex digits after 'ebx=0x', found '0000000z'" },
        { "   0x00000001 0x00: eax=0x00000000 ebx:0x00000000 ecx=0x00000000 edx=0x00000000", "ebx: expected ' ebx=0x' and 8 hex digits, found 'ebx:0x00000000'" },
        { "   0x00000001 0x00: eax=0x00000000 ebx=00000000 ecx=0x00000000 edx=0x00000000", "ebx: expected ' ebx=0x' and 8 hex digits, found 'ebx=00000000'" },
        { "   0x00000001 0x00: eax=0x00000000 ebx=0x00000000 ecx=0x00000000", "edx: expected ' edx=0x' and 8 hex digits, found end of line" },
        { "   0x00000001 0x00: eax=0x00000000 ebx=0x00000000 ecx=0x00000000 edx=0x0000", "edx: expected 8 hex digits after 'edx=0x', found '0000'" },
        { "   0x00000001 0x00: eax=0x00000000ebx=0x00000000 ecx=0x00000000 edx=0x00000000", "eax: expected 8 hex digits after 'eax=0x', found '00000000ebx=0x00000000'" },
        { "   0x00000001 0x00: eax=0x00000000 ebx=0x00000000 ecx=0x00000000 edx=0x00000000 junk", "flags: expected ' flags=0x' and hex digits, found 'junk'" },
        { "   0x00000001 0x00: eax=0x00000000 ebx=0x00000000 ecx=0x00000000 edx=0x00000000 flags=0x4", "flags: expected 0x0 or 0x1 (KVM_CPUID_FLAG_SIGNIFCANT_INDEX), found 0x4" },
        { "   0x00000001 0x00: eax=0x00000000 ebx=0x00000000 ecx=0x00000000 edx=0x00000000 flags=0x1 more", "expected end of line after flags, found 'more'" },
        { "CPU zero:", "expected a leaf line '0xLLLLLLLL 0xSS: eax=0x... ebx=0x... ecx=0x... edx=0x...', a 'CPU n:' header or a '#' comment, found 'CPU'" },
        { Good, "duplicate leaf 0x00000000 sub-leaf 0x00: expected each (leaf, sub-leaf) once, but line 3 already gave it" },
    };

    [Theory]
    [MemberData(nameof(MalformedLines))]
    public void Malformed_leaf_line_is_an_error_naming_line_4_and_the_problem(string badLine, string message)
    {
        var problem = Problem(CpuidRawDump.Parse(CaptureWithLine4(badLine), "bad.cpuid-r.txt"));

        Assert.Equal(new ParseError("bad.cpuid-r.txt", 4, message), problem);
    }

    [Fact]
    public void The_same_capture_with_a_good_line_4_parses()
    {
        var host = HostOf(CpuidRawDump.Parse(CaptureWithLine4("   0x00000001 0x00: eax=0x00050654 ebx=0x00400800 ecx=0x7ffefbff edx=0xbfebfbff"), "good.cpuid-r.txt"));

        Assert.Equal("good.cpuid-r.txt", host.Name);
        Assert.Equal([0u, 1u, 2u], host.Cpuid.Entries.Select(e => e.Function));
        Assert.Equal(0x7ffefbffu, host.Cpuid[1].Ecx);
    }

    [Theory]
    [InlineData("")]
    [InlineData("\n \n")]
    public void Empty_text_is_an_error_about_the_whole_text(string text)
    {
        var problem = Problem(CpuidRawDump.Parse(text, "empty.txt"));

        Assert.Equal(("empty.txt", 0), (problem.Source, problem.Line));
        Assert.StartsWith("the text is empty", problem.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Text_without_leaf_lines_is_an_error_about_the_whole_text()
    {
        var problem = Problem(CpuidRawDump.Parse("# nothing here\nCPU 0:\n", "no-leaves.txt"));

        Assert.Equal(
            new ParseError("no-leaves.txt", 0, "no leaf lines: expected at least one '0xLLLLLLLL 0xSS: eax=0x... ebx=0x... ecx=0x... edx=0x...' line"),
            problem
        );
    }

    [Fact]
    public void Output_of_cpuid_r_1_with_a_bare_CPU_header_parses_and_a_second_CPU_block_is_not_read()
    {
        var host = HostOf(CpuidRawDump.Parse("CPU:\n" + Good + "\nCPU 1:\n   garbage that is never read\n", "one.txt"));

        Assert.Equal(1, host.Cpuid.Count);
    }

    [Theory]
    [InlineData("\f")]
    [InlineData("\u0085")]
    [InlineData("\u2028")]
    [InlineData("\u2029")]
    public void A_form_feed_or_Unicode_separator_in_a_comment_stays_in_the_comment_and_line_numbers_match_grep(string separator)
    {
        var text = string.Join('\n', $"# hand-made{separator}0xnot a leaf", "CPU 0:", Good, "   0x0000000g 0x00: eax=0x00000000 ebx=0x00000000 ecx=0x00000000 edx=0x00000000", "");

        Assert.Equal(4, Problem(CpuidRawDump.Parse(text, "sep.txt")).Line);
        var aida = string.Join('\n', $"hand-made{separator}CPUID 0000000Z", "CPUID 00000000: 00000016-756E6547-6C65746E-49656E69", "", "CPUID 0000000G: 00000000-00000000-00000000-00000000", "");
        Assert.Equal(4, Problem(Aida64Dump.Parse(aida, "sep.txt")).Line);
    }

    [Fact]
    public void A_carriage_return_without_a_line_feed_is_an_error_naming_its_line_and_CRLF_is_fine()
    {
        var crlf = string.Join("\r\n", "# hand-made", "CPU 0:", Good, "");
        Assert.Equal([0u], HostOf(CpuidRawDump.Parse(crlf, "crlf.txt")).Cpuid.Entries.Select(e => e.Function));

        var crOnly = "# hand-made\rCPU 0:\r" + Good + "\r";
        Assert.Equal(new ParseError("cr.txt", 1, "a carriage return without a line feed: lines must end in LF or CRLF"), Problem(CpuidRawDump.Parse(crOnly, "cr.txt")));
        Assert.Equal(1, Problem(Aida64Dump.Parse(crOnly, "cr.txt")).Line);
    }
}
