using static CpuidFunctional.Properties.Host.HostTestData;

namespace CpuidFunctional.Properties.Host;

/// <summary>Malformed AIDA64 input is an error naming the source, the 1-based line and the problem.</summary>
public class Aida64ParseErrorTests
{
    private const string Good1 = "CPUID 00000001: 00050654-00400800-7FFEFBFF-BFEBFBFF";

    /// <summary>A plausible dump whose sixth line is <paramref name="badLine"/>.</summary>
    private static string DumpWithLine6(string badLine) =>
        string.Join(
            '\n',
            "# a hand-made dump",
            "CPUID CPU Name    : Test CPU",
            "------[ CPUID Registers / Logical CPU #0 ]------",
            "",
            "CPUID 00000000: 00000016-756E6547-6C65746E-49656E69 [GenuineIntel]",
            badLine,
            "CPUID 00000002: 76036301-00F0B5FF-00000000-00C30000",
            "L1    Data Cache:    32 KB,  8-way Associative, 64-byte Line"
        );

    // the bad line, what the message must say
    public static TheoryData<string, string> MalformedLines => new()
    {
        { "CPUID 0000000G: 00050654-00400800-7FFEFBFF-BFEBFBFF", "leaf: expected 8 hex digits after 'CPUID ', found '0000000G'" },
        { "CPUID 0001: 00050654-00400800-7FFEFBFF-BFEBFBFF", "leaf: expected 8 hex digits after 'CPUID ', found '0001'" },
        { "CPUID 000000001: 00050654-00400800-7FFEFBFF-BFEBFBFF", "leaf: expected 8 hex digits after 'CPUID ', found '000000001'" },
        { "CPUID", "leaf: expected 8 hex digits after 'CPUID ', found end of line" },
        { "CPUID 00000001 00050654-00400800-7FFEFBFF-BFEBFBFF", "expected ':' after leaf 00000001, found a space" },
        { "CPUID 00000001:", "EAX: expected 8 hex digits, found end of line" },
        { "CPUID 00000001: 00050654-0040080Z-7FFEFBFF-BFEBFBFF", "EBX: expected 8 hex digits, found '0040080Z'" },
        { "CPUID 00000001: 00050654 00400800 7FFEFBFF BFEBFBFF", "expected '-' between EAX and EBX, found a space" },
        { "CPUID 00000001: 00050654-00400800:7FFEFBFF-BFEBFBFF", "expected '-' between EBX and ECX, found ':'" },
        { "CPUID 00000001: 00050654--7FFEFBFF-BFEBFBFF", "EBX: expected 8 hex digits, found '-'" },
        { "CPUID 00000001: 00050654-00400800-7FFEFBFF", "expected '-' between ECX and EDX, found end of line" },
        { "CPUID 00000001: 00050654-00400800-7FFEFBFF-BFEB", "EDX: expected 8 hex digits, found 'BFEB'" },
        { "CPUID 00000001: 00050654-00400800-7FFEFBFF-BFEBFBFF0", "EDX: expected 8 hex digits, found 'BFEBFBFF0'" },
        { "CPUID 00000001: 00050654-00400800-7FFEFBFF-BFEBFBFF;", "expected a space or end of line after EDX, found ';'" },
        { Good1 + " [SL 0G]", "[SL xx]: expected 1 to 8 hex digits for the sub-leaf, found '0G'" },
        { Good1 + " [SL ]", "[SL xx]: expected 1 to 8 hex digits for the sub-leaf, found ']'" },
        { Good1 + " [SL 01", "[SL xx]: expected ']' after sub-leaf 01, found end of line" },
        { Good1 + " [SL01]", "[SL xx]: expected a space after '[SL', found '0'" },
        { Good1 + " [SL 123456789]", "[SL xx]: expected 1 to 8 hex digits for the sub-leaf, found '123456789'" },
        { "CPUID 00000000: 00000016-756E6547-6C65746E-49656E69", "duplicate leaf 0x00000000 sub-leaf 0x00: expected each (leaf, sub-leaf) once, but line 5 already gave it" },
    };

    [Theory]
    [MemberData(nameof(MalformedLines))]
    public void Malformed_register_line_is_an_error_naming_line_6_and_the_problem(string badLine, string message)
    {
        var problem = Problem(Aida64Dump.Parse(DumpWithLine6(badLine), "bad.aida64.txt"));

        Assert.Equal(new ParseError("bad.aida64.txt", 6, message), problem);
    }

    [Fact]
    public void The_same_dump_with_a_good_line_6_parses()
    {
        var host = HostOf(Aida64Dump.Parse(DumpWithLine6(Good1 + " [SL 01] [comment: anything]"), "good.aida64.txt"));

        Assert.Equal("Test CPU", host.Name);
        Assert.Equal([0u, 1u, 2u], host.Cpuid.Entries.Select(e => e.Function));
        Assert.Equal(1u, host.Cpuid[1].Index);
    }

    [Theory]
    [InlineData("")]
    [InlineData("   \n\n")]
    public void Empty_text_is_an_error_about_the_whole_text(string text)
    {
        var problem = Problem(Aida64Dump.Parse(text, "empty.txt"));

        Assert.Equal(("empty.txt", 0), (problem.Source, problem.Line));
        Assert.StartsWith("the text is empty", problem.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Text_without_register_lines_is_an_error_about_the_whole_text()
    {
        const string Text = "------[ CPU Info ]------\nCPU Alias         : Skylake-SP\nCPUID Manufacturer: GenuineIntel\nL1 Data Cache: 32 KB\n";

        var problem = Problem(Aida64Dump.Parse(Text, "headers-only.txt"));

        Assert.Equal(new ParseError("headers-only.txt", 0, "no register lines: expected at least one 'CPUID LLLLLLLL: EAX-EBX-ECX-EDX' line"), problem);
    }

    [Fact]
    public void Only_the_first_logical_CPU_is_read()
    {
        const string Text = "------[ CPUID Registers / Logical CPU #0 ]------\n"
            + "CPUID 00000000: 00000016-756E6547-6C65746E-49656E69\n"
            + "------[ CPUID Registers / Logical CPU #1 ]------\n"
            + "CPUID 00000000: 00000016-756E6547-6C65746E-49656E69\n"
            + "CPUID 0000000G: this block is never read\n";

        var host = HostOf(Aida64Dump.Parse(Text, "two-cpus.txt"));

        Assert.Equal(1, host.Cpuid.Count);
    }

    [Fact]
    public void Header_keys_after_CPUID_are_ignored_but_a_hex_leaf_like_C0000000_is_a_register_line()
    {
        const string Text = "CPUID Manufacturer: GenuineIntel\nCPUID Revision    : 00050654h\nCPUID C0000000: 00000000-00000000-00000000-00000000\n";

        var host = HostOf(Aida64Dump.Parse(Text, "centaur.txt"));

        Assert.Equal(0xC0000000u, Assert.Single(host.Cpuid.Entries).Function);
    }
}
