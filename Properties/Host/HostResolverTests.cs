using static CpuidFunctional.Properties.Host.HostTestData;

namespace CpuidFunctional.Properties.Host;

/// <summary>The one <c>--host</c> resolver (cpuidf and Bench): presets, dump files, the format rule and the messages.</summary>
public class HostResolverTests
{
    private const string Aida64 = "CPUID 00000000: 0000000D-756E6547-6C65746E-49656E69\nCPUID 00000001: 00050654-00200800-7FFEFBFF-BFEBFBFF\n";
    private const string CpuidR = "CPU 0:\n   0x00000000 0x00: eax=0x0000000d ebx=0x756e6547 ecx=0x6c65746e edx=0x49656e69\n";

    /// <summary>A reader over named texts that counts its calls; a missing name throws as File.ReadAllText does.</summary>
    private sealed class Files(params (string Path, string Text)[] files)
    {
        public int Reads { get; private set; }

        public string Read(string path)
        {
            Reads++;
            return files.FirstOrDefault(f => f.Path == path).Text ?? throw new FileNotFoundException($"Could not find file '{path}'.");
        }
    }

    [Fact]
    public void A_preset_name_in_any_case_is_the_preset_and_reads_no_file()
    {
        var files = new Files();

        var host = HostOf(HostResolver.Resolve("Sapphire-Rapids", files.Read));

        Assert.Same(HostPresets.SapphireRapids, host);
        Assert.Equal(0, files.Reads);
    }

    [Fact]
    public void A_dump_with_CPUID_lines_is_read_once_and_parsed_as_AIDA64()
    {
        var files = new Files(("dumps/a.txt", Aida64));

        var host = HostOf(HostResolver.Resolve("dumps/a.txt", files.Read));

        Assert.Equal(1, files.Reads);
        Assert.Equal((2, "GenuineIntel"), (host.Cpuid.Count, host.VendorName));
    }

    [Fact]
    public void A_dump_without_CPUID_lines_is_parsed_as_cpuid_r_output()
    {
        var files = new Files(("b.cpuid", CpuidR));

        var host = HostOf(HostResolver.Resolve("b.cpuid", files.Read));

        Assert.Equal(("b.cpuid", 1), (host.Name, host.Cpuid.Count));
    }

    [Fact]
    public void A_comment_that_mentions_CPUID_does_not_make_a_cpuid_r_file_AIDA64()
    {
        var host = HostOf(HostResolver.ParseDump("# KVM_GET_SUPPORTED_CPUID on a test kernel\n" + CpuidR, "probe.txt"));

        Assert.Equal(1, host.Cpuid.Count);
    }

    [Fact]
    public void A_file_without_a_dot_or_slash_is_still_a_dump_when_it_can_be_read()
    {
        var files = new Files(("mydump", Aida64));

        Assert.Equal(2, HostOf(HostResolver.Resolve("mydump", files.Read)).Cpuid.Count);
    }

    [Fact]
    public void A_name_that_is_neither_a_preset_nor_a_file_is_an_unknown_preset_listing_the_presets()
    {
        var problem = Problem(HostResolver.Resolve("pentium-4", new Files().Read));

        Assert.Equal(
            new ParseError("host preset", 0, "unknown host preset 'pentium-4': expected one of skylake-sp, icelake-sp, sapphire-rapids, genoa"),
            problem
        );
    }

    [Fact]
    public void An_unreadable_path_is_an_error_naming_the_file_and_the_reason()
    {
        var problem = Problem(HostResolver.Resolve("/no/such/dump.txt", new Files().Read));

        Assert.Equal("/no/such/dump.txt: cannot read the file: Could not find file '/no/such/dump.txt'.", problem.ToString());
    }

    [Fact]
    public void A_malformed_dump_is_an_error_naming_the_file_and_line()
    {
        var files = new Files(("bad.txt", "CPUID 00000000: 0000000D-756E6547-6C65746E-49656E69\nCPUID 00000001: zz\n"));

        var problem = Problem(HostResolver.Resolve("bad.txt", files.Read));

        Assert.Equal(("bad.txt", 2), (problem.Source, problem.Line));
    }

    [Fact]
    public void ReadDump_never_takes_a_path_for_a_preset_name()
    {
        var problem = Problem(HostResolver.ReadDump("genoa", new Files().Read));

        Assert.StartsWith("genoa: cannot read the file", problem.ToString(), StringComparison.Ordinal);
    }
}
