using CpuidFunctional.Core.Host.Presets;
using static CpuidFunctional.Properties.Host.HostTestData;

namespace CpuidFunctional.Properties.Host;

/// <summary>The same dumps through both importers, the embedded presets against their data files, and real captures.</summary>
public class ImporterAgreementTests
{
    // preset, the AIDA64 file, its cpuid -r conversion (Data/README.md says how it was made).
    private static readonly (string Preset, string Aida64, string CpuidR)[] DumpFiles =
    [
        ("skylake-sp", "skylake-sp-8160.aida64.txt", "skylake-sp-8160.cpuid-r.txt"),
        ("icelake-sp", "icelake-sp-8351n.aida64.txt", "icelake-sp-8351n.cpuid-r.txt"),
        ("sapphire-rapids", "sapphire-rapids-w7-2475x.aida64.txt", "sapphire-rapids-w7-2475x.cpuid-r.txt"),
        ("genoa", "genoa-epyc-9654.aida64.txt", "genoa-epyc-9654.cpuid-r.txt"),
    ];

    public static TheoryData<string, string, string> Dumps
    {
        get
        {
            var data = new TheoryData<string, string, string>();
            foreach (var (preset, aida64, cpuidR) in DumpFiles)
            {
                data.Add(preset, aida64, cpuidR);
            }
            return data;
        }
    }

    public static TheoryData<string, string> EmbeddedDumps
    {
        get
        {
            var data = new TheoryData<string, string>();
            foreach (var (preset, aida64, _) in DumpFiles)
            {
                data.Add(preset, aida64);
            }
            return data;
        }
    }

    private static string EmbeddedText(string preset) => preset switch
    {
        "skylake-sp" => SkylakeSpDump.Aida64Text,
        "icelake-sp" => IcelakeSpDump.Aida64Text,
        "sapphire-rapids" => SapphireRapidsDump.Aida64Text,
        "genoa" => GenoaDump.Aida64Text,
        _ => throw new ArgumentOutOfRangeException(nameof(preset), preset, "no embedded dump"),
    };

    // One source: Core.csproj's EmbedPresetDumps writes each Core/Host/Presets dump into a C# constant; this checks
    // that step's escaping (';', '%', '$', '@' and the trailing newline survive).
    [Theory]
    [MemberData(nameof(EmbeddedDumps))]
    public void Embedded_preset_text_is_its_dump_file_byte_for_byte(string preset, string aida64File) =>
        Assert.Equal(Read(aida64File), EmbeddedText(preset));

    [Theory]
    [MemberData(nameof(Dumps))]
    public void Aida64_text_and_its_cpuid_r_conversion_give_the_same_table_and_sizes(string preset, string aida64File, string cpuidRFile)
    {
        var p = Preset(preset);
        var fromAida64 = HostOf(Aida64Dump.Parse(Read(aida64File), aida64File));
        var fromCpuidR = HostOf(CpuidRawDump.Parse(Read(cpuidRFile), cpuidRFile));

        Assert.Equal(fromAida64.Cpuid, fromCpuidR.Cpuid);
        Assert.Equal(p.Host.Cpuid, fromAida64.Cpuid);
        Assert.Equal(fromAida64.Xsave, fromCpuidR.Xsave);
        Assert.Equal((fromAida64.SupportedXcr0, fromAida64.SupportedXss), (fromCpuidR.SupportedXcr0, fromCpuidR.SupportedXss));
        Assert.Equal(
            (Hex(D(fromAida64, 0)), Hex(D(fromAida64, 1))),
            (Hex(fromCpuidR.Xsave.RequiredSize(p.DumpXcr0, compacted: false)), Hex(fromCpuidR.Xsave.RequiredSize(p.DumpXcr0 | p.DumpXss, compacted: true)))
        );
    }

    [Theory]
    [MemberData(nameof(Dumps))]
    public void Both_importers_flag_exactly_the_architecturally_indexed_leaves(string preset, string aida64File, string cpuidRFile)
    {
        var fromAida64 = HostOf(Aida64Dump.Parse(Read(aida64File), aida64File));
        var fromCpuidR = HostOf(CpuidRawDump.Parse(Read(cpuidRFile), cpuidRFile));

        foreach (var host in new[] { fromAida64, fromCpuidR, Preset(preset).Host })
        {
            Assert.All(host.Cpuid.Entries, e => Assert.Equal(IndexedLeaves.IsIndexed(e.Function), e.HasSignificantIndex));
            Assert.Contains(host.Cpuid.Entries, e => e is { Function: 0xD, Index: 1, HasSignificantIndex: true });
        }
    }

    [Fact]
    public void Aida64_host_name_is_the_CPU_Name_line_else_the_source()
    {
        var skylake = HostOf(Aida64Dump.Parse(Read("skylake-sp-8160.aida64.txt"), "skylake-sp-8160.aida64.txt"));
        var genoa = HostOf(Aida64Dump.Parse(Read("genoa-epyc-9654.aida64.txt"), "genoa-epyc-9654.aida64.txt"));

        Assert.Equal("Intel(R) Xeon(R) Platinum 8160 CPU @ 2.10GHz", skylake.Name);
        Assert.Equal("genoa-epyc-9654.aida64.txt", genoa.Name);
    }

    [Fact]
    public void Aida64_host_name_falls_back_to_the_CPU_Alias_line()
    {
        const string Text = "CPU Alias         : Skylake-SP\nCPUID 00000000: 00000016-756E6547-6C65746E-49656E69 [GenuineIntel]\n";

        Assert.Equal("Skylake-SP", HostOf(Aida64Dump.Parse(Text, "t.txt")).Name);
    }

    [Fact]
    public void This_machine_cpuid_r_capture_keeps_CPU_0_and_gives_a_sane_xsave_layout()
    {
        var text = Read("this-machine.cpuid-r.txt");
        var cpu0Lines = text.Split('\n').SkipWhile(l => l != "CPU 0:").Skip(1).TakeWhile(l => l != "CPU 1:").Count(l => l.TrimStart().StartsWith("0x", StringComparison.Ordinal));

        var host = HostOf(CpuidRawDump.Parse(text, "this-machine.cpuid-r.txt"));

        Assert.Equal(cpu0Lines, host.Cpuid.Count);
        Assert.NotNull(host.Cpuid.Find(0, 0));
        Assert.Equal(0xb3fe0800u, host.Cpuid.Find(1, 0)!.Value.Ebx); // CPU 0's APIC ID 0xb3; CPU 1's block says 0x2f
        Assert.Equal(576u, host.Xsave.RequiredSize(0x3, compacted: false));
        Assert.Equal(576u, host.Xsave.RequiredSize(0x3, compacted: true));
        // SDM: 0xD.0:ECX is the size with every supported XCR0 feature on; Linux had them all on at capture (EBX).
        Assert.Equal(Hex(host.Cpuid.Find(0xD, 0)!.Value.Ecx), Hex(host.Xsave.RequiredSize(host.SupportedXcr0, compacted: false)));
        Assert.Equal(Hex(D(host, 0)), Hex(host.Xsave.RequiredSize(host.SupportedXcr0, compacted: false)));
        Assert.Equal(Hex(D(host, 1)), Hex(host.Xsave.RequiredSize(host.SupportedXcr0 | host.SupportedXss, compacted: true)));
    }

    [Fact]
    public void Flags_column_of_the_live_KVM_supported_table_is_taken_from_the_file_and_matches_cpuid_function_is_indexed()
    {
        var text = Read("live-kvm-supported.cpuid-r.txt");
        var nent = int.Parse(text.Split("nent=")[1].TakeWhile(char.IsAsciiDigit).ToArray(), provider: null);

        var host = HostOf(CpuidRawDump.Parse(text, "live-kvm-supported.cpuid-r.txt"));

        Assert.Equal(nent, host.Cpuid.Count); // the commented-out GET_CPUID2 table is not read
        Assert.Equal(CpuidFlags.SignificantIndex, host.Cpuid.Find(0x4, 3)!.Value.Flags);
        Assert.Equal(CpuidFlags.None, host.Cpuid.Find(0x20, 0)!.Value.Flags);
        Assert.All(host.Cpuid.Entries, e => Assert.Equal(IndexedLeaves.IsIndexed(e.Function), e.HasSignificantIndex));
    }

    [Fact]
    public void Flags_column_overrides_the_indexed_leaf_rule()
    {
        const string Text = "   0x0000000d 0x00: eax=0x00000003 ebx=0x00000240 ecx=0x00000340 edx=0x00000000 flags=0x0\n"
            + "   0x00000001 0x00: eax=0x00000000 ebx=0x00000000 ecx=0x00000000 edx=0x00000000 flags=0x1\n";

        var host = HostOf(CpuidRawDump.Parse(Text, "t.txt"));

        Assert.Equal([CpuidFlags.None, CpuidFlags.SignificantIndex], host.Cpuid.Entries.Select(e => e.Flags));
    }
}
