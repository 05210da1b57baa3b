using CpuidFunctional.Core.Dynamic;

namespace CpuidFunctional.Properties.Mutation;

/// <summary>
/// Absolute expectations for <see cref="DynamicBits"/> (<c>kvm_update_cpuid_runtime</c>, spec §1) on a small
/// hand-made host whose XSAVE numbers are easy to add up: every policy runs the same update, so only values stated
/// here (not a comparison between policies) can see a wrong bit or size.
/// </summary>
public class DynamicBitsTests
{
    private const uint Osxsave = 1u << DynamicBits.OsXsaveBit;
    private const uint Apic = 1u << DynamicBits.ApicBit;
    private const uint Monitor = 1u << DynamicBits.MwaitBit;
    private const uint Ospke = 1u << DynamicBits.OsPkeBit;
    private const uint Xsave = 1u << 26;
    private const uint Pku = 1u << 3;
    private const uint Formats = DynamicBits.XsavecBit | DynamicBits.XsavesBit;
    private const ulong CetUser = 1ul << 11;

    private static CpuidEntry Leaf(uint function, uint index, uint eax = 0, uint ebx = 0, uint ecx = 0, uint edx = 0) =>
        new(function, index, CpuidFlags.SignificantIndex, eax, ebx, ecx, edx);

    /// <summary>
    /// XSAVE components: AVX 256 bytes at 576, PKRU 8 bytes at 2688 (64-byte aligned when compacted), CET user state
    /// 16 bytes (supervisor, IA32_XSS bit 11). Standard size of x87|SSE|AVX|PKRU: 2688 + 8 = 2696; of x87|SSE|AVX:
    /// 576 + 256 = 832. Compacted: 832, PKRU aligned at 832 → 840, CET user → 856.
    /// </summary>
    private static readonly HostCpu Host = HostCpu.FromCpuid(
        "hand-made",
        CpuidTable.Of(
            Leaf(0, 0, eax: 0xD),
            Leaf(1, 0, ecx: Xsave, edx: Apic),
            Leaf(7, 0, ecx: Pku),
            Leaf(0xD, 0, eax: 0x207, ebx: 2696, ecx: 2696),
            Leaf(0xD, 1, eax: Formats, ecx: (uint)CetUser),
            Leaf(0xD, 2, eax: 256, ebx: 576),
            Leaf(0xD, 9, eax: 8, ebx: 2688, ecx: 0b10),
            Leaf(0xD, 11, eax: 16, ecx: 0b01)
        )
    );

    private static readonly Vm Vm618 = new(Host);

    /// <summary>The guest's table: every dynamic bit clear, 0xD.0/0xD.1 EBX holding a marker value the update must overwrite.</summary>
    private static CpuidTable Guest(uint d1Eax = Formats) =>
        CpuidTable.Of(
            Leaf(0, 0, eax: 0xD),
            Leaf(1, 0, ecx: Xsave),
            Leaf(7, 0, ecx: Pku),
            Leaf(0xD, 0, eax: 0x207, ebx: 0x1234),
            Leaf(0xD, 1, eax: d1Eax, ebx: 0x1234)
        );

    private static Vcpu State(ulong cr4 = 0, ulong xcr0 = Xcr0.Fp, ulong xss = 0, ulong apicBase = 0, ulong miscEnable = 0) =>
        new() { Cr4 = cr4, Xcr0 = xcr0, Rare = VcpuRare.AtReset with { ApicBase = apicBase, MiscEnable = miscEnable, Xss = xss } };

    private static Materialized Update(Vcpu v, CpuidTable table, Vm? vm = null, DynamicCaps caps = DynamicCaps.None) =>
        DynamicBits.Materialize(vm ?? Vm618, v, table, caps, KvmRules.Kvm);

    private static CpuidEntry At(Materialized m, uint function, uint index = 0) => m.Table.Find(function, index)!.Value;

    [Fact]
    public void OSXSAVE_and_APIC_in_leaf_1_follow_CR4_OSXSAVE_and_the_APIC_base_enable_bit()
    {
        var on = Update(State(cr4: Cr4.OsXsave, apicBase: Msr.ApicBaseDefault), Guest());
        var off = Update(State(cr4: 0, apicBase: Msr.ApicBaseDefault & ~Msr.ApicBaseEnable), Guest().SetItems([(1, Leaf(1, 0, ecx: Xsave | Osxsave, edx: Apic))]));

        Assert.Equal((Xsave | Osxsave, Apic), (At(on, 1).Ecx, At(on, 1).Edx));
        Assert.Equal(DynamicCaps.OsXsave | DynamicCaps.Apic, on.Caps);
        Assert.Equal((Xsave, 0u), (At(off, 1).Ecx, At(off, 1).Edx));
        Assert.Equal(DynamicCaps.None, off.Caps);
    }

    [Fact]
    public void OSXSAVE_set_and_APIC_clear_in_one_update_are_both_kept()
    {
        var m = Update(State(cr4: Cr4.OsXsave), Guest().SetItems([(1, Leaf(1, 0, ecx: Xsave, edx: Apic))]));

        Assert.Equal((Xsave | Osxsave, 0u), (At(m, 1).Ecx, At(m, 1).Edx));
        Assert.Equal(DynamicCaps.OsXsave, m.Caps);
    }

    public static TheoryData<string, CpuidEntry, uint, uint> FirstEntries => new()
    {
        { "leaf 1", Leaf(1, 0, ecx: Xsave), Xsave | Osxsave, 0 },
        { "7.0", Leaf(7, 0, ecx: Pku), Pku | Ospke, 0 },
        { "0xD.0", Leaf(0xD, 0, eax: 0x207, ebx: 0x1234), 0x207, 832 },
        { "0xD.1", Leaf(0xD, 1, eax: Formats, ebx: 0x1234), Formats, 832 },
    };

    /// <summary>KVM finds each leaf wherever it sits; a table need not start with leaf 0 (the lookup's -1 means missing, 0 is a position).</summary>
    [Theory]
    [MemberData(nameof(FirstEntries))]
    public void A_dynamic_leaf_that_is_the_tables_first_entry_is_rewritten(string what, CpuidEntry entry, uint register, uint ebx)
    {
        var m = Update(State(cr4: Cr4.OsXsave | Cr4.Pke, xcr0: Xcr0.Fp | Xcr0.Sse | Xcr0.Ymm), CpuidTable.Of(entry, Leaf(0x8000_0000, 0)));

        var rewritten = m.Table[0];
        Assert.True(entry.Function switch { 1 or 7 => rewritten.Ecx, _ => rewritten.Eax } == register, what);
        Assert.True(entry.Function != 0xD || rewritten.Ebx == ebx, $"{what}: EBX 0x{rewritten.Ebx:x}");
    }

    /// <summary>
    /// <c>kvm_update_cpuid_runtime</c> finds leaf 1 with the index not significant (<c>kvm_find_cpuid_entry(vcpu, 1)</c>):
    /// the first entry of function 1 is rewritten even when userspace flagged it index-significant with another index.
    /// </summary>
    [Fact]
    public void Leaf_1_is_found_by_function_alone_even_when_flagged_significant_with_index_1()
    {
        var m = Update(State(cr4: Cr4.OsXsave, apicBase: Msr.ApicBaseDefault), CpuidTable.Of(Leaf(0, 0, eax: 1), Leaf(1, 1, ecx: Xsave)));

        Assert.Equal((Xsave | Osxsave, Apic), (m.Table[1].Ecx, m.Table[1].Edx));
        Assert.Equal(DynamicCaps.OsXsave | DynamicCaps.Apic, m.Caps);
    }

    [Fact]
    public void OSPKE_in_7_0_follows_CR4_PKE_and_only_that_bit_changes()
    {
        var on = Update(State(cr4: Cr4.Pke), Guest());
        var off = Update(State(cr4: 0), Guest().SetItems([(2, Leaf(7, 0, ecx: Pku | Ospke))]));

        Assert.Equal(Pku | Ospke, At(on, 7).Ecx);
        Assert.Equal(DynamicCaps.OsPke, on.Caps);
        Assert.Equal(Pku, At(off, 7).Ecx);
        Assert.Equal(DynamicCaps.None, off.Caps & DynamicCaps.OsPke);
    }

    [Theory]
    [InlineData(Xcr0.Fp | Xcr0.Sse | Xcr0.Ymm | Xcr0.Pkru, 2696u)]
    [InlineData(Xcr0.Fp | Xcr0.Sse | Xcr0.Ymm, 832u)]
    [InlineData(Xcr0.Fp, 576u)]
    public void EBX_of_0xD_0_is_the_standard_size_of_XCR0(ulong xcr0, uint size)
    {
        var m = Update(State(xcr0: xcr0), Guest());

        Assert.Equal(size, At(m, 0xD).Ebx);
    }

    [Fact]
    public void EBX_of_0xD_1_is_the_compacted_size_of_XCR0_and_IA32_XSS_from_6_18_and_of_XCR0_alone_before()
    {
        var v = State(xcr0: Xcr0.Fp | Xcr0.Sse | Xcr0.Ymm | Xcr0.Pkru, xss: CetUser);

        Assert.Equal(856u, At(Update(v, Guest()), 0xD, 1).Ebx);
        Assert.Equal(840u, At(Update(v, Guest(), new Vm(Host, KernelProfile.Linux6_15)), 0xD, 1).Ebx);
    }

    [Theory]
    [InlineData(DynamicBits.XsavecBit, 856u, 2)]
    [InlineData(DynamicBits.XsavesBit, 856u, 2)]
    [InlineData(1u << 2, 0x1234u, 1)] // XGETBV1 alone: no compacted format, EBX kept
    [InlineData(0u, 0x1234u, 1)]
    public void EBX_of_0xD_1_is_rewritten_only_when_its_EAX_has_XSAVEC_or_XSAVES(uint d1Eax, uint ebx, int sizes)
    {
        var m = Update(State(xcr0: Xcr0.Fp | Xcr0.Sse | Xcr0.Ymm | Xcr0.Pkru, xss: CetUser), Guest(d1Eax));

        Assert.Equal(ebx, At(m, 0xD, 1).Ebx);
        Assert.Equal(sizes, m.XstateSizeComputations);
    }

    private static readonly Vm QuirkDisabled = Vm618 with { DisabledQuirks = KvmQuirks.MiscEnableNoMwait };

    [Fact]
    public void With_MISC_ENABLE_NO_MWAIT_disabled_MWAIT_follows_MISC_ENABLE_bit_18_beside_the_OSXSAVE_rewrite()
    {
        var on = Update(State(cr4: Cr4.OsXsave, miscEnable: Msr.MiscEnableMwait), Guest(), QuirkDisabled);
        var off = Update(State(cr4: Cr4.OsXsave), Guest().SetItems([(1, Leaf(1, 0, ecx: Xsave | Monitor))]), QuirkDisabled, DynamicCaps.Mwait);

        Assert.Equal(Xsave | Osxsave | Monitor, At(on, 1).Ecx);
        Assert.Equal(DynamicCaps.OsXsave | DynamicCaps.Mwait, on.Caps);
        Assert.Equal(Xsave | Osxsave, At(off, 1).Ecx);
        Assert.Equal(DynamicCaps.OsXsave, off.Caps);
    }

    [Fact]
    public void MWAIT_is_rewritten_in_a_leaf_1_that_is_the_tables_first_entry()
    {
        var m = Update(State(miscEnable: Msr.MiscEnableMwait), CpuidTable.Of(Leaf(1, 0, ecx: Xsave)), QuirkDisabled);

        Assert.Equal(Xsave | Monitor, m.Table[0].Ecx);
    }

    [Fact]
    public void One_update_can_rewrite_leaf_1_twice_and_7_0_0xD_0_and_0xD_1_together()
    {
        var v = State(cr4: Cr4.OsXsave | Cr4.Pke, xcr0: Xcr0.Fp | Xcr0.Sse | Xcr0.Ymm, apicBase: Msr.ApicBaseDefault, miscEnable: Msr.MiscEnableMwait);

        var m = Update(v, Guest(), QuirkDisabled);

        Assert.Equal((Xsave | Osxsave | Monitor, Apic), (At(m, 1).Ecx, At(m, 1).Edx));
        Assert.Equal(Pku | Ospke, At(m, 7).Ecx);
        Assert.Equal((832u, 832u), (At(m, 0xD).Ebx, At(m, 0xD, 1).Ebx));
        Assert.Equal(DynamicCaps.OsXsave | DynamicCaps.Apic | DynamicCaps.OsPke | DynamicCaps.Mwait, m.Caps);
    }

    [Fact]
    public void While_MISC_ENABLE_NO_MWAIT_is_in_effect_MWAIT_and_its_cached_bit_are_the_tables()
    {
        var table = Guest().SetItems([(1, Leaf(1, 0, ecx: Xsave | Monitor))]);

        var m = Update(State(miscEnable: 0), table, Vm618, DynamicCaps.Mwait);

        Assert.Equal(Xsave | Monitor, At(m, 1).Ecx);
        Assert.Equal(DynamicCaps.Mwait, m.Caps);
    }

    [Fact]
    public void An_update_that_changes_nothing_returns_the_same_table_and_still_counts_both_sizes()
    {
        var v = State(cr4: Cr4.OsXsave, xcr0: Xcr0.Fp | Xcr0.Sse | Xcr0.Ymm);
        var first = Update(v, Guest());

        var second = Update(v, first.Table, caps: first.Caps);

        Assert.Same(first.Table, second.Table);
        Assert.Equal(first.Caps, second.Caps);
        Assert.Equal(2, second.XstateSizeComputations);
    }

    [Fact]
    public void A_table_without_the_dynamic_leaves_is_returned_as_it_is_with_the_caps_unchanged()
    {
        var table = CpuidTable.Of(Leaf(0, 0, eax: 0x0), Leaf(0x8000_0000, 0, eax: 0x8000_0000));

        var m = Update(State(cr4: Cr4.OsXsave | Cr4.Pke, apicBase: Msr.ApicBaseDefault), table, QuirkDisabled, DynamicCaps.Mwait);

        Assert.Same(table, m.Table);
        Assert.Equal(DynamicCaps.Mwait, m.Caps);
        Assert.Equal(0, m.XstateSizeComputations);
    }

    [Fact]
    public void Linux_6_1_leaves_OSXSAVE_and_OSPKE_as_the_table_has_them_when_the_host_lacks_XSAVE_and_PKU()
    {
        var bare = HostCpu.FromCpuid("no XSAVE, no PKU", CpuidTable.Of(Leaf(0, 0, eax: 7), Leaf(1, 0), Leaf(7, 0)));
        var table = Guest().SetItems([(1, Leaf(1, 0, ecx: Xsave | Osxsave)), (2, Leaf(7, 0, ecx: Pku))]);

        var m = Update(State(cr4: Cr4.Pke), table, new Vm(bare, KernelProfile.Linux6_1));

        Assert.Equal(Xsave | Osxsave, At(m, 1).Ecx);
        Assert.Equal(Pku, At(m, 7).Ecx);
        Assert.Equal(DynamicCaps.OsXsave, m.Caps);
    }

    [Fact]
    public void The_caps_a_table_states_are_its_OSXSAVE_APIC_and_MWAIT_in_leaf_1_and_OSPKE_in_7_0()
    {
        var all = CpuidTable.Of(Leaf(1, 0, ecx: Osxsave | Monitor, edx: Apic), Leaf(7, 0, ecx: Ospke));
        var none = CpuidTable.Of(Leaf(1, 0, ecx: ~(Osxsave | Monitor), edx: ~Apic), Leaf(7, 0, ecx: ~Ospke));

        Assert.Equal(DynamicCaps.OsXsave | DynamicCaps.Apic | DynamicCaps.Mwait | DynamicCaps.OsPke, DynamicBits.CapsOf(all));
        Assert.Equal(DynamicCaps.None, DynamicBits.CapsOf(none));
        Assert.Equal(DynamicCaps.Apic, DynamicBits.CapsOf(CpuidTable.Of(Leaf(1, 0, edx: Apic))));
        Assert.Equal(DynamicCaps.OsPke, DynamicBits.CapsOf(CpuidTable.Of(Leaf(7, 0, ecx: Ospke))));
        Assert.Equal(DynamicCaps.None, DynamicBits.CapsOf(CpuidTable.Empty));
    }
}
