using CpuidFunctional.Core.Dynamic;
using static CpuidFunctional.Properties.Host.HostTestData;

namespace CpuidFunctional.Properties.Host;

/// <summary>
/// XSAVE sizes of the four real hosts at the XCR0 / IA32_XSS their dumps were taken at, with 6.18 semantics:
/// 0xD.0:EBX = standard size of XCR0, 0xD.1:EBX = compacted size of XCR0 | XSS.
/// </summary>
public class DumpXsaveSizeTests
{
    // preset, XCR0, XSS, 0xD.0:EBX (standard), 0xD.1:EBX (compacted): the issue's vectors (shared/data/cpuid-dumps/README.md).
    public static TheoryData<string, ulong, ulong, uint, uint> DumpStates => new()
    {
        { "skylake-sp", 0xFF, 0x100, 0xA80, 0xA80 },
        { "icelake-sp", 0xE7, 0x100, 0xA80, 0xA00 },
        { "sapphire-rapids", 0x602E7, 0x100, 0x2B00, 0x2A80 },
        { "genoa", 0xE7, 0x800, 0x980, 0x990 },
    };

    public static TheoryData<string> PresetNames => [.. HostPresets.Names];

    [Theory]
    [MemberData(nameof(DumpStates))]
    public void Xstate_required_size_at_the_preset_dump_state_gives_the_issue_vectors(string preset, ulong xcr0, ulong xss, uint standard, uint compacted)
    {
        var p = Preset(preset);

        Assert.Equal((Hex(xcr0), Hex(xss)), (Hex(p.DumpXcr0), Hex(p.DumpXss)));
        Assert.Equal(Hex(standard), Hex(p.Host.Xsave.RequiredSize(p.DumpXcr0, compacted: false)));
        Assert.Equal(Hex(compacted), Hex(p.Host.Xsave.RequiredSize(p.DumpXcr0 | p.DumpXss, compacted: true)));
    }

    [Theory]
    [MemberData(nameof(DumpStates))]
    public void Xstate_required_size_at_the_dump_state_equals_the_EBX_the_dump_itself_shows(string preset, ulong xcr0, ulong xss, uint standard, uint compacted)
    {
        var host = Preset(preset).Host;

        Assert.Equal((Hex(standard), Hex(compacted)), (Hex(D(host, 0)), Hex(D(host, 1))));
        Assert.Equal(Hex(D(host, 0)), Hex(host.Xsave.RequiredSize(xcr0, compacted: false)));
        Assert.Equal(Hex(D(host, 1)), Hex(host.Xsave.RequiredSize(xcr0 | xss, compacted: true)));
    }

    [Theory]
    [MemberData(nameof(PresetNames))]
    public void Standard_size_of_every_supported_XCR0_feature_equals_the_dump_0xD_0_ECX(string preset)
    {
        // SDM: CPUID.0xD.0:ECX is the area size if every XCR0 feature the CPU supports were enabled.
        var p = Preset(preset);
        var ecx = p.Host.Cpuid.Find(0xD, 0)!.Value.Ecx;

        Assert.Equal(Hex(ecx), Hex(p.Host.Xsave.RequiredSize(p.Host.SupportedXcr0, compacted: false)));
        Assert.Equal(Hex(p.DumpXcr0), Hex(p.DumpXcr0 & p.Host.SupportedXcr0));
        Assert.Equal(Hex(p.DumpXss), Hex(p.DumpXss & p.Host.SupportedXss));
    }

    [Theory]
    [MemberData(nameof(DumpStates))]
    public void Materializing_the_dump_table_at_its_own_state_on_6_18_reproduces_both_EBX_values(string preset, ulong xcr0, ulong xss, uint standard, uint compacted)
    {
        var host = Preset(preset).Host;
        var vm = new Vm(host, KernelProfile.Linux6_18);
        var zeroed = host.Cpuid.SetItem(host.Cpuid.IndexOf(0xD, 0), host.Cpuid.Find(0xD, 0)!.Value with { Ebx = 0 })
            .SetItem(host.Cpuid.IndexOf(0xD, 1), host.Cpuid.Find(0xD, 1)!.Value with { Ebx = 0 });
        var vcpu = new Vcpu { Cr4 = Cr4.OsXsave, Xcr0 = xcr0, Rare = VcpuRare.AtReset with { Xss = xss }, Cpuid = zeroed };

        var table = DynamicBits.Materialize(vm, vcpu, zeroed, DynamicBits.CapsOf(zeroed), KvmRules.Kvm).Table;

        Assert.Equal((Hex(standard), Hex(compacted)), (Hex(table.Find(0xD, 0)!.Value.Ebx), Hex(table.Find(0xD, 1)!.Value.Ebx)));
    }

    [Theory]
    [MemberData(nameof(DumpStates))]
    public void Profile_6_15_leaves_XSS_out_of_0xD_1_and_so_disagrees_with_every_dump(string preset, ulong xcr0, ulong xss, uint standard, uint compacted)
    {
        var host = Preset(preset).Host;
        var vm = new Vm(host, KernelProfile.Linux6_15);
        var vcpu = new Vcpu { Cr4 = Cr4.OsXsave, Xcr0 = xcr0, Rare = VcpuRare.AtReset with { Xss = xss }, Cpuid = host.Cpuid };

        var table = DynamicBits.Materialize(vm, vcpu, host.Cpuid, DynamicBits.CapsOf(host.Cpuid), KvmRules.Kvm).Table;

        Assert.Equal(Hex(standard), Hex(table.Find(0xD, 0)!.Value.Ebx));
        Assert.Equal(Hex(host.Xsave.RequiredSize(xcr0, compacted: true)), Hex(table.Find(0xD, 1)!.Value.Ebx));
        Assert.NotEqual(Hex(compacted), Hex(table.Find(0xD, 1)!.Value.Ebx));
    }
}
