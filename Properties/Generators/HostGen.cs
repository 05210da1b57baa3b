using CsCheck;

namespace CpuidFunctional.Properties.Generators;

/// <summary>
/// Hosts: two hand-built presets with realistic CPUID.0xD tables and random valid XSAVE component tables.
/// The presets are a stand-in until Core.Host.HostPresets lands; switching is the one line marked below.
/// </summary>
public static class HostGen
{
    /// <summary>
    /// Intel-like: SDM layout with MPX, AVX-512, PKRU and AMX (XTILECFG and XTILEDATA carry the 64-byte
    /// alignment flag, ECX bit 1), Intel PT and CET in IA32_XSS. Numbers from the spec's component table.
    /// </summary>
    public static HostCpu IntelLike { get; } = Build(
        "intel-like",
        Vendor.Intel,
        maxBasicLeaf: 0x20,
        leaf1Ecx: Bits(0, 3, 5, 9, 12, 13, 17, 19, 20, 21, 23, 26, 27, 28, 29, 30),
        leaf1Edx: 0xBFEBFBFF,
        leaf7Ebx: Bits(0, 3, 4, 5, 7, 8, 11, 16, 17, 18, 19, 20, 30, 31),
        leaf7Ecx: Bits(1, 2, 3, 4, 7, 16),
        leaf7Edx: Bits(20, 24, 25, 29), // 29: IA32_ARCH_CAPABILITIES, so the host has IA32_TSX_CTRL (Kvm.HasTsxCtrl)
        vaddrPaddr: 0x3027,
        components:
        [
            new(2, 0x100, 0x240, 0),
            new(3, 0x40, 0x3C0, 0),
            new(4, 0x40, 0x400, 0),
            new(5, 0x40, 0x440, 0),
            new(6, 0x200, 0x480, 0),
            new(7, 0x400, 0x680, 0),
            new(8, 0x80, 0, 1),
            new(9, 8, 0xA80, 0),
            new(11, 0x10, 0, 1),
            new(12, 0x18, 0, 1),
            new(17, 0x40, 0xAC0, 2),
            new(18, 0x2000, 0xB00, 6),
        ],
        d1Eax: 0xF
    );

    /// <summary>
    /// AMD-like: the EPYC 7402P (Zen 2) layout from the qemu-devel dump: PKRU (component 9) is 0x40 bytes at
    /// 0x340, straight after AVX; no supervisor components.
    /// </summary>
    public static HostCpu AmdLike { get; } = Build(
        "amd-like",
        Vendor.Amd,
        maxBasicLeaf: 0x10,
        leaf1Ecx: Bits(0, 3, 9, 12, 13, 19, 20, 23, 26, 27, 28, 29, 30),
        leaf1Edx: 0x178BFBFF,
        leaf7Ebx: Bits(0, 3, 5, 7, 8, 18, 19, 20),
        leaf7Ecx: Bits(2, 3, 4),
        leaf7Edx: 0,
        vaddrPaddr: 0x3030,
        components: [new(2, 0x100, 0x240, 0), new(9, 0x40, 0x340, 0)],
        d1Eax: 0xF
    );

    /// <summary>
    /// The fixed hosts every run covers. Switch to the shared presets with one line:
    /// <c>public static IReadOnlyList&lt;HostCpu&gt; Presets { get; } = [.. HostPresets.All];</c>
    /// </summary>
    public static IReadOnlyList<HostCpu> Presets { get; } = [IntelLike, AmdLike];

    /// <summary>One of the presets.</summary>
    public static readonly Gen<HostCpu> Preset = Gen.Int[0, Presets.Count - 1].Select(i => Presets[i]);

    /// <summary>A user (XCR0) component: present or not, a size, a gap before it, and the alignment flag.</summary>
    private static readonly Gen<(bool Present, uint Size, uint Gap, bool Align)> UserComponent = Gen.Select(
        Gen.Frequency((3, Gen.Const(true)), (1, Gen.Const(false))),
        Gen.UInt[1, 64].Select(n => n * 8),
        Gen.OneOf(0u, 0u, 0u, 8u, 64u),
        Gen.Bool
    );

    /// <summary>A supervisor (IA32_XSS) component: present or not, a size, the alignment flag.</summary>
    private static readonly Gen<(bool Present, uint Size, bool Align)> SupervisorComponent = Gen.Select(
        Gen.Bool,
        Gen.UInt[1, 32].Select(n => n * 8),
        Gen.Frequency((4, Gen.Const(false)), (1, Gen.Const(true)))
    );

    /// <summary>
    /// A random valid XSAVE component table: user components in the architectural groups (AVX; MPX pair;
    /// AVX-512 triple, only with AVX; PKRU; AMX pair) laid out in index order from offset 576 with optional holes,
    /// random sizes and alignment flags; supervisor components (PT, PASID, CET_U, CET_S, UINTR, Arch LBR) with
    /// offset 0.
    /// </summary>
    public static readonly Gen<XsaveComponent[]> RandomComponents = Gen.Select(
            UserComponent.Array[5],
            SupervisorComponent.Array[6],
            Gen.UInt[16, 1024].Select(n => n * 8)
        )
        .Select((user, supervisor, tileData) => LayOut(user, supervisor, tileData));

    /// <summary>A random host: vendor, feature bits and XSAVE layout.</summary>
    public static readonly Gen<HostCpu> Random = Gen.Select(Gen.Bool, RandomComponents, Gen.Bool, Gen.Bool)
        .Select((amd, components, pku, xsaves) =>
        {
            var xcr0Pkru = components.Any(c => c.Index == 9);
            return Build(
                amd ? "random-amd" : "random-intel",
                amd ? Vendor.Amd : Vendor.Intel,
                maxBasicLeaf: 0x1F,
                leaf1Ecx: Bits(0, 3, 5, 17, 21, 26, 28),
                leaf1Edx: 0xBFEBFBFF,
                leaf7Ebx: Bits(0, 4, 7, 11, 20),
                leaf7Ecx: pku || xcr0Pkru ? Bits(2, 3) : Bits(2),
                leaf7Edx: 0,
                vaddrPaddr: 0x3027,
                components: components,
                d1Eax: xsaves ? 0xFu : 0x7u
            );
        });

    /// <summary>Every host the properties run on: presets half of the time, random layouts the other half.</summary>
    public static readonly Gen<HostCpu> Host = Gen.Frequency((1, Preset), (1, Random));

    private static XsaveComponent[] LayOut((bool Present, uint Size, uint Gap, bool Align)[] user, (bool Present, uint Size, bool Align)[] supervisor, uint tileData)
    {
        var list = new List<XsaveComponent>();
        var offset = 576u;
        void AddUser(int index, uint size, uint gap, bool align)
        {
            offset += gap;
            list.Add(new XsaveComponent(index, size, offset, align ? 2u : 0u));
            offset += size;
        }
        var avx = user[0].Present;
        if (avx)
        {
            AddUser(2, 0x100, user[0].Gap, user[0].Align);
        }
        if (user[1].Present)
        {
            AddUser(3, 0x40, user[1].Gap, user[1].Align);
            AddUser(4, 0x40, 0, user[1].Align);
        }
        if (avx && user[2].Present)
        {
            AddUser(5, user[2].Size, user[2].Gap, user[2].Align);
            AddUser(6, 0x200, 0, false);
            AddUser(7, 0x400, 0, false);
        }
        if (user[3].Present)
        {
            AddUser(9, user[3].Size, user[3].Gap, user[3].Align);
        }
        if (user[4].Present)
        {
            AddUser(17, 0x40, user[4].Gap, true);
            AddUser(18, tileData, 0, true);
        }
        int[] supervisorIndices = [8, 10, 11, 12, 14, 15];
        for (var i = 0; i < supervisorIndices.Length; i++)
        {
            var (present, size, align) = supervisor[i];
            if (present)
            {
                list.Add(new XsaveComponent(supervisorIndices[i], size, 0, align ? 3u : 1u));
            }
        }
        return [.. list.OrderBy(c => c.Index)];
    }

    /// <summary>A host CPUID table with leaves 0, 1, 7.0, 0xD.0/1/i, 0x80000000, 0x80000001 and 0x80000008.</summary>
    private static HostCpu Build(
        string name,
        (uint Ebx, uint Ecx, uint Edx) vendor,
        uint maxBasicLeaf,
        uint leaf1Ecx,
        uint leaf1Edx,
        uint leaf7Ebx,
        uint leaf7Ecx,
        uint leaf7Edx,
        uint vaddrPaddr,
        XsaveComponent[] components,
        uint d1Eax
    )
    {
        var layout = XsaveLayout.Of(components);
        var xcr0 = 0x3ul;
        var xss = 0ul;
        foreach (var c in components)
        {
            if (c.IsSupervisor)
            {
                xss |= 1ul << c.Index;
            }
            else
            {
                xcr0 |= 1ul << c.Index;
            }
        }
        var standard = layout.RequiredSize(xcr0, compacted: false);
        var compacted = layout.RequiredSize(xcr0 | xss, compacted: true);
        var entries = new List<CpuidEntry>
        {
            CpuidEntry.Plain(0, maxBasicLeaf, vendor.Ebx, vendor.Ecx, vendor.Edx),
            CpuidEntry.Plain(1, 0x000806F8, 0x00800800, leaf1Ecx, leaf1Edx),
            CpuidEntry.Indexed(7, 0, 1, leaf7Ebx, leaf7Ecx, leaf7Edx),
            CpuidEntry.Indexed(0xD, 0, (uint)xcr0, standard, standard, (uint)(xcr0 >> 32)),
            CpuidEntry.Indexed(0xD, 1, d1Eax, compacted, (uint)xss, (uint)(xss >> 32)),
        };
        entries.AddRange(components.Select(c => CpuidEntry.Indexed(0xD, (uint)c.Index, c.Size, c.Offset, c.Flags, 0)));
        entries.Add(CpuidEntry.Plain(0x8000_0000, 0x8000_0008, vendor.Ebx, vendor.Ecx, vendor.Edx));
        entries.Add(CpuidEntry.Plain(0x8000_0001, 0, 0, Bits(0, 5, 8), Bits(11, 20, 26, 27, 29)));
        entries.Add(CpuidEntry.Plain(0x8000_0008, vaddrPaddr, 0, 0, 0));
        return HostCpu.FromCpuid(name, CpuidTable.Of(entries));
    }

    private static uint Bits(params ReadOnlySpan<int> bits)
    {
        var value = 0u;
        foreach (var b in bits)
        {
            value |= 1u << b;
        }
        return value;
    }
}
