using CpuidFunctional.Core.Checking;
using CpuidFunctional.Cli;
using static CpuidFunctional.Properties.CliTool.CliRunner;
using static CpuidFunctional.Properties.Host.HostTestData;

namespace CpuidFunctional.Properties.Host;

/// <summary>
/// A dump whose XSAVE leaves no processor could give (XCR0 support without x87/SSE or without the components it
/// names, sizes that do not fit 32 bits) is an import error naming the file and the line, in both formats.
/// </summary>
public class DumpXsaveImportErrorTests
{
    private const string Leaf0 = "   0x00000000 0x00: eax=0x0000000d ebx=0x756e6547 ecx=0x6c65746e edx=0x49656e69";

    /// <summary>A <c>cpuid -r</c> capture: line 3 is 0xD.0 with these EAX/EDX, then the given 0xD.i lines from line 4.</summary>
    private static string Raw(uint eax, uint edx, params string[] components) =>
        string.Join('\n', ["CPU 0:", Leaf0, $"   0x0000000d 0x00: eax=0x{eax:x8} ebx=0x00000240 ecx=0x00000340 edx=0x{edx:x8}", .. components, ""]);

    private static string Component(int index, uint size, uint offset, uint ecx = 0) =>
        $"   0x0000000d 0x{index:x2}: eax=0x{size:x8} ebx=0x{offset:x8} ecx=0x{ecx:x8} edx=0x00000000";

    [Fact]
    public void XCR0_support_of_all_ones_is_an_error_at_the_0xD_0_line_naming_the_first_bit_without_a_component()
    {
        var problem = Problem(CpuidRawDump.Parse(Raw(0xFFFFFFFF, 0xFFFFFFFF), "ones.txt"));

        Assert.Equal(new ParseError("ones.txt", 3, "XCR0 support 0xffffffffffffffff (leaf 0xD sub-leaf 0 EDX:EAX) has bit 2, but no leaf 0xD sub-leaf 0x02 line gives that XSAVE component a size"), problem);
    }

    [Fact]
    public void An_AIDA64_dump_with_XCR0_support_of_all_ones_is_the_same_error_at_its_line()
    {
        var text = string.Join('\n', "CPUID 00000000: 0000000D-756E6547-6C65746E-49656E69", "CPUID 0000000D: FFFFFFFF-00000240-00000340-FFFFFFFF [SL 00]", "");

        var problem = Problem(Aida64Dump.Parse(text, "ones.aida.txt"));

        Assert.Equal(2, problem.Line);
        Assert.StartsWith("XCR0 support 0xffffffffffffffff (leaf 0xD sub-leaf 0 EDX:EAX) has bit 2", problem.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void XCR0_support_without_SSE_is_an_error_at_the_0xD_0_line()
    {
        var problem = Problem(CpuidRawDump.Parse(Raw(0x5, 0, Component(2, 0x100, 0x240)), "nosse.txt"));

        Assert.Equal(new ParseError("nosse.txt", 3, "XCR0 support 0x5 (leaf 0xD sub-leaf 0 EDX:EAX) lacks x87 or SSE (bits 0 and 1), which every XSAVE processor supports"), problem);
    }

    [Fact]
    public void A_component_whose_offset_plus_size_exceeds_32_bits_is_an_error_at_its_line_not_a_wrapped_size()
    {
        var problem = Problem(CpuidRawDump.Parse(Raw(0x7, 0, Component(2, 0xFFFFFFFF, 0xFFFFFFFF)), "wrap.txt"));

        Assert.Equal(new ParseError("wrap.txt", 4, "XSAVE component 2 at offset 0xffffffff (EBX) with size 0xffffffff (EAX) ends beyond 4 GiB: the standard size would not fit CPUID.0xD.0:EBX"), problem);
    }

    [Fact]
    public void Components_whose_compacted_sum_exceeds_32_bits_are_an_error_at_the_line_that_crosses()
    {
        var text = Raw(0xF, 0, Component(2, 0x80000000, 0x240), Component(3, 0x80000000, 0x240));

        var problem = Problem(CpuidRawDump.Parse(text, "sum.txt"));

        Assert.Equal(5, problem.Line);
        Assert.StartsWith("XSAVE components up to 3 (size 0x80000000 in EAX) add up to 0x100000240 bytes compacted, beyond 4 GiB", problem.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_dump_whose_XSAVE_leaves_are_possible_still_imports()
    {
        var host = HostOf(CpuidRawDump.Parse(Raw(0x7, 0, Component(2, 0x100, 0x240)), "avx.txt"));

        Assert.Equal(0x7ul, host.SupportedXcr0);
    }

    [Fact]
    public void Check_of_a_dump_with_XCR0_support_of_all_ones_is_refused_at_once_with_exit_2()
    {
        using var dump = Temp(System.Text.Encoding.ASCII.GetBytes(Raw(0xFFFFFFFF, 0xFFFFFFFF)), ".txt");

        var (exit, _, error) = Cpuidf("check", "--host", dump.Path, "--kernel", "6.18");

        Assert.Equal(ExitCodes.BadInput, exit);
        Assert.Contains($"{dump.Path}:3: XCR0 support 0xffffffffffffffff", error, StringComparison.Ordinal);
    }

    [Fact]
    public void The_exhaustive_XCR0_masks_of_a_host_with_more_groups_than_the_bound_are_refused_not_enumerated()
    {
        // 6 known groups over 10 bits, x87 apart, and the other 53 bits one group each: 2^59 subsets.
        Assert.Equal(59, KvmAlphabet.Xcr0GroupCount(ulong.MaxValue));
        Assert.Throws<ArgumentOutOfRangeException>(() => KvmAlphabet.ValidXcr0Masks(ulong.MaxValue));
    }

    [Fact]
    public void An_XCR0_group_above_bit_31_is_enumerated_with_64_bit_arithmetic()
    {
        const ulong high = 1ul << 62;

        Assert.Equal([0x1, 0x3, 0x1 | high, 0x3 | high], KvmAlphabet.ValidXcr0Masks(0x3 | high).Order().ToArray());
    }
}
