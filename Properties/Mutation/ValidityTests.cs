using CpuidFunctional.Core.Dynamic;

namespace CpuidFunctional.Properties.Mutation;

/// <summary>
/// Absolute expectations for the value checks every policy shares, one row per rule of the kernel function named in
/// each test (x86.c and x86.h of 6.18; SDM vol. 1, 13.3 for XCR0, vol. 3, 2.5 for CR0 and CR4): the lock-step
/// properties cannot see them, and Stryker's mutants of <see cref="Xcr0"/>, <see cref="Cr0"/>, <see cref="Efer"/>,
/// <see cref="GuestCpuCaps"/>, <see cref="Kvm.IsValidCr4"/> and <see cref="Kvm.IsValidCpuid"/> survived without them.
/// </summary>
public class ValidityTests
{
    private const ulong X87Sse = Xcr0.Fp | Xcr0.Sse;
    private const ulong Avx = X87Sse | Xcr0.Ymm;
    private const ulong Mpx = Xcr0.Bndregs | Xcr0.Bndcsr;

    public static TheoryData<string, ulong, ulong, bool> Xcr0Values => new()
    {
        { "x87 alone", Xcr0.Fp, ulong.MaxValue, true },
        { "x87 alone, x87 counted as supported even when the guest's table has no 0xD", Xcr0.Fp, 0, true },
        { "x87 and SSE", X87Sse, X87Sse, true },
        { "SSE without x87", Xcr0.Sse, X87Sse, false },
        { "zero", 0, ulong.MaxValue, false },
        { "AVX with SSE", Avx, Avx, true },
        { "AVX without SSE", Xcr0.Fp | Xcr0.Ymm, Avx, false },
        { "SSE beyond the guest's support", X87Sse, Xcr0.Fp, false },
        { "AVX beyond the guest's support", Avx, X87Sse, false },
        { "both MPX components", X87Sse | Mpx, X87Sse | Mpx, true },
        { "BNDREGS alone", X87Sse | Xcr0.Bndregs, X87Sse | Mpx, false },
        { "BNDCSR alone", X87Sse | Xcr0.Bndcsr, X87Sse | Mpx, false },
        { "all of AVX-512 with AVX", Avx | Xcr0.Avx512, ulong.MaxValue, true },
        { "all of AVX-512 without YMM", X87Sse | Xcr0.Avx512, ulong.MaxValue, false },
        { "opmask alone of AVX-512", Avx | (1ul << 5), ulong.MaxValue, false },
        { "two of AVX-512's three", Avx | (3ul << 5), ulong.MaxValue, false },
        { "Hi16_ZMM alone of AVX-512", Avx | (1ul << 7), ulong.MaxValue, false },
        { "PKRU", X87Sse | Xcr0.Pkru, ulong.MaxValue, true },
    };

    [Theory]
    [MemberData(nameof(Xcr0Values))]
    public void Kvm_set_xcr_accepts_an_XCR0_value_exactly_when_every_architectural_rule_holds(string what, ulong xcr0, ulong supported, bool valid)
    {
        Assert.True(Xcr0.IsValid(xcr0, supported) == valid, $"{what}: 0x{xcr0:x} with guest support 0x{supported:x}");
    }

    public static TheoryData<string, ulong, bool> Cr0Values => new()
    {
        { "zero", 0, true },
        { "CR0 at RESET (CD, NW, ET)", Cr0.AtReset, true },
        { "PE and PG", Cr0.Pe | Cr0.Pg, true },
        { "PG without PE", Cr0.Pg, false },
        { "NW with CD", Cr0.Nw | Cr0.Cd, true },
        { "NW without CD", Cr0.Nw, false },
        { "CD without NW", Cr0.Cd, true },
        { "bit 32", 1ul << 32, false },
        { "bit 63 with PE", Cr0.Pe | (1ul << 63), false },
    };

    [Theory]
    [MemberData(nameof(Cr0Values))]
    public void Kvm_is_valid_cr0_refuses_high_bits_NW_without_CD_and_PG_without_PE(string what, ulong cr0, bool valid)
    {
        Assert.True(Cr0.IsValid(cr0) == valid, $"{what}: 0x{cr0:x}");
    }

    [Fact]
    public void Cr0_after_INIT_is_ET_with_CD_and_NW_kept_and_nothing_else()
    {
        Assert.Equal(Cr0.Et | Cr0.Cd | Cr0.Nw, Cr0.AfterInit(ulong.MaxValue));
        Assert.Equal(Cr0.Et, Cr0.AfterInit(Cr0.Pe | Cr0.Pg));
    }

    private const ulong Paging = Cr0.Pe | Cr0.Pg;

    public static TheoryData<string, ulong, ulong, ulong, bool> EferValues => new()
    {
        { "long mode: LME, LMA, PG and PAE", Efer.Lme | Efer.Lma, Paging, Cr4.Pae, true },
        { "LME and PG without PAE", Efer.Lme | Efer.Lma, Paging, 0, false },
        { "LME and PG without LMA", Efer.Lme, Paging, Cr4.Pae, false },
        { "LME without PG, LMA clear", Efer.Lme, Cr0.Pe, Cr4.Pae, true },
        { "LME without PG, LMA set", Efer.Lme | Efer.Lma, Cr0.Pe, Cr4.Pae, false },
        { "PG without LME, LMA set", Efer.Lma, Paging, Cr4.Pae, false },
        { "PG without LME, LMA clear", 0, Paging, 0, true },
        { "nothing", 0, 0, 0, true },
    };

    [Theory]
    [MemberData(nameof(EferValues))]
    public void Kvm_is_valid_sregs_needs_PAE_and_LMA_in_64_bit_mode_and_LMA_clear_outside_it(string what, ulong efer, ulong cr0, ulong cr4, bool valid)
    {
        Assert.True(Efer.IsValidWith(efer, cr0, cr4) == valid, $"{what}: EFER 0x{efer:x}, CR0 0x{cr0:x}, CR4 0x{cr4:x}");
    }

    /// <summary>The CR4 bit each feature of <c>__cr4_reserved_bits</c> frees.</summary>
    public static TheoryData<string, ulong> Cr4BitsOfFeatures => new()
    {
        { "XSAVE", Cr4.OsXsave },
        { "PKU", Cr4.Pke },
        { "VMX", Cr4.Vmxe },
        { "SMEP", Cr4.Smep },
        { "SMAP", Cr4.Smap },
        { "FSGSBASE", Cr4.FsGsBase },
        { "PCID", Cr4.Pcide },
        { "LA57", Cr4.La57 },
        { "UMIP", Cr4.Umip },
        { "SHSTK", Cr4.Cet },
        { "IBT", Cr4.Cet },
    };

    private static ulong Features(params string[] names) =>
        GuestFeature.All.Where(f => names.Contains(f.Name)).Aggregate(0ul, (m, f) => m | f.Mask);

    private static readonly ulong AllFeatures = Features([.. GuestFeature.All.Select(f => f.Name)]);

    [Theory]
    [MemberData(nameof(Cr4BitsOfFeatures))]
    public void A_CR4_bit_is_reserved_without_its_feature_and_free_with_it(string feature, ulong bit)
    {
        Assert.Equal(bit, GuestCpuCaps.Cr4Reserved(0) & bit);
        Assert.Equal(0ul, GuestCpuCaps.Cr4Reserved(Features(feature)) & bit);
    }

    [Fact]
    public void With_every_feature_only_LAM_SUP_is_reserved_and_without_any_exactly_the_feature_bits_and_LAM_SUP_are()
    {
        Assert.Equal(Cr4.LamSup, GuestCpuCaps.Cr4Reserved(AllFeatures));
        const ulong featureBits = Cr4.OsXsave | Cr4.Pke | Cr4.Vmxe | Cr4.Smep | Cr4.Smap | Cr4.FsGsBase | Cr4.Pcide
            | Cr4.La57 | Cr4.Umip | Cr4.Cet | Cr4.LamSup;
        Assert.Equal(featureBits, GuestCpuCaps.Cr4Reserved(0));
    }

    private static Vcpu WithFeatures(ulong features) =>
        new() { Rare = VcpuRare.AtReset with { Guest = GuestCaps.None with { Features = features, Cr4ReservedByFeatures = GuestCpuCaps.Cr4Reserved(features) } } };

    public static TheoryData<string, ulong, ulong, bool> Cr4Values => new()
    {
        { "zero", 0, 0, true },
        { "PAE, OSFXSR, OSXMMEXCPT without any feature", 0, Cr4.Pae | Cr4.OsFxsr | Cr4.OsXmmExcpt, true },
        { "OSXSAVE without XSAVE", 0, Cr4.OsXsave, false },
        { "OSXSAVE with XSAVE", Features("XSAVE"), Cr4.OsXsave, true },
        { "SMXE with every feature", AllFeatures, Cr4.Smxe, false },
        { "PKS with every feature", AllFeatures, Cr4.Pks, false },
        { "bit 15 with every feature", AllFeatures, 1ul << 15, false },
        { "bit 19 with every feature", AllFeatures, 1ul << 19, false },
        { "bit 25 with every feature", AllFeatures, 1ul << 25, false },
        { "bit 32 with every feature", AllFeatures, 1ul << 32, false },
        { "bit 63 with every feature", AllFeatures, 1ul << 63, false },
        { "every writable bit but LAM_SUP with every feature", AllFeatures, Cr4.Architectural & ~Cr4.LamSup, true },
    };

    [Theory]
    [MemberData(nameof(Cr4Values))]
    public void Kvm_is_valid_cr4_refuses_bits_outside_KVMs_set_and_bits_of_missing_features(string what, ulong features, ulong cr4, bool valid)
    {
        Assert.True(Kvm.IsValidCr4(WithFeatures(features), cr4) == valid, $"{what}: CR4 0x{cr4:x}");
    }

    [Fact]
    public void KVMs_writable_CR4_set_is_bits_0_to_13_16_to_18_20_to_23_and_28()
    {
        var bits = Enumerable.Range(0, 64).Where(b => (Cr4.Architectural & (1ul << b)) != 0);
        Assert.Equal([.. Enumerable.Range(0, 14), 16, 17, 18, 20, 21, 22, 23, 28], bits);
    }

    private static CpuidTable WithVirtualAddressBits(uint bits) =>
        CpuidTable.Of(
            new CpuidEntry(0x8000_0000, 0, CpuidFlags.None, 0x8000_0008, 0, 0, 0),
            new CpuidEntry(0x8000_0008, 0, CpuidFlags.None, (bits << 8) | 46, 0, 0, 0)
        );

    [Theory]
    [InlineData(0u, true)]
    [InlineData(48u, true)]
    [InlineData(57u, true)]
    [InlineData(32u, false)]
    [InlineData(47u, false)]
    [InlineData(49u, false)]
    [InlineData(56u, false)]
    [InlineData(58u, false)]
    [InlineData(255u, false)]
    public void Kvm_check_cpuid_accepts_a_virtual_address_width_of_0_48_or_57_only(uint bits, bool valid)
    {
        Assert.Equal(valid, Kvm.IsValidCpuid(WithVirtualAddressBits(bits)));
    }

    [Fact]
    public void Kvm_check_cpuid_checks_0x80000008_when_it_is_the_tables_first_entry()
    {
        Assert.False(Kvm.IsValidCpuid(CpuidTable.Of(new CpuidEntry(0x8000_0008, 0, CpuidFlags.None, (47u << 8) | 46, 0, 0, 0))));
        Assert.True(Kvm.IsValidCpuid(CpuidTable.Of(new CpuidEntry(0x8000_0008, 0, CpuidFlags.None, (48u << 8) | 46, 0, 0, 0))));
    }

    [Fact]
    public void Kvm_check_cpuid_accepts_a_table_without_0x80000008()
    {
        Assert.True(Kvm.IsValidCpuid(CpuidTable.Of(new CpuidEntry(0, 0, CpuidFlags.None, 0xD, 0, 0, 0))));
    }

    // ---- what KVM_SET_CPUID2 derives (kvm_vcpu_after_set_cpuid) ----

    private static CpuidEntry Leaf(uint function, uint index, uint eax = 0, uint ebx = 0, uint ecx = 0, uint edx = 0) =>
        new(function, index, CpuidFlags.SignificantIndex, eax, ebx, ecx, edx);

    [Fact]
    public void Supported_XCR0_is_0xD_0_EDX_EAX_limited_to_the_hosts()
    {
        var table = CpuidTable.Of(Leaf(0xD, 0, eax: 0x207, edx: 0x1));
        var caps = GuestCpuCaps.Derive(table, hostSupportedXcr0: 0x1_0000_0007, hostSupportedXss: 0);

        Assert.Equal(0x1_0000_0007ul, caps.SupportedXcr0);
        Assert.Equal(0ul, caps.SupportedXss);
    }

    [Fact]
    public void Supported_XSS_is_0xD_1_EDX_ECX_limited_to_the_hosts()
    {
        var table = CpuidTable.Of(Leaf(0xD, 0, eax: 0x3), Leaf(0xD, 1, eax: 0xF, ecx: 0x1900, edx: 0x2));
        var caps = GuestCpuCaps.Derive(table, hostSupportedXcr0: ulong.MaxValue, hostSupportedXss: 0x2_0000_1800);

        Assert.Equal(0x2_0000_1800ul, caps.SupportedXss);
        Assert.Equal(0x3ul, caps.SupportedXcr0);
    }

    [Fact]
    public void Without_leaf_0xD_no_XCR0_or_XSS_feature_is_supported()
    {
        var caps = GuestCpuCaps.Derive(CpuidTable.Of(Leaf(1, 0, ecx: 1u << 26)), ulong.MaxValue, ulong.MaxValue);

        Assert.Equal((0ul, 0ul), (caps.SupportedXcr0, caps.SupportedXss));
    }

    public static TheoryData<string, CpuidEntry[], byte> PhysAddrTables => new()
    {
        { "no extended leaves", [Leaf(0, 0, eax: 0xD)], 36 },
        { "extended range below 0x80000008", [Leaf(0x8000_0000, 0, eax: 0x8000_0007), Leaf(0x8000_0008, 0, eax: 0x3028)], 36 },
        { "extended range reaching 0x80000008", [Leaf(0x8000_0000, 0, eax: 0x8000_0008), Leaf(0x8000_0008, 0, eax: 0x3028)], 0x28 },
        { "extended range beyond 0x80000008", [Leaf(0x8000_0000, 0, eax: 0x8000_0021), Leaf(0x8000_0008, 0, eax: 0x3034)], 0x34 },
        { "extended range reaching it but the leaf missing", [Leaf(0x8000_0000, 0, eax: 0x8000_0008)], 36 },
        { "0x80000008 as the first entry", [Leaf(0x8000_0008, 0, eax: 0x302B), Leaf(0x8000_0000, 0, eax: 0x8000_0008)], 0x2B },
    };

    [Theory]
    [MemberData(nameof(PhysAddrTables))]
    public void Cpuid_query_maxphyaddr_reads_0x80000008_EAX_7_0_when_the_extended_range_reaches_it_else_36(string what, CpuidEntry[] entries, byte expected)
    {
        Assert.True(GuestCpuCaps.Derive(CpuidTable.Of(entries), 0, 0).MaxPhysAddr == expected, what);
    }

    [Fact]
    public void Static_features_are_read_from_their_leaves_and_MWAIT_is_not_among_them()
    {
        var table = CpuidTable.Of(
            Leaf(1, 0, ecx: (1u << 26) | (1u << 3) | 1u),
            Leaf(7, 0, ebx: 1u << 7, ecx: 1u << 3, edx: 1u << 20)
        );

        var features = GuestCpuCaps.Derive(table, 0, 0).Features;

        Assert.Equal(Features("XSAVE", "SSE3", "SMEP", "PKU", "IBT"), features);
    }

    /// <summary>
    /// KVM finds a feature's leaf with the significant-index flag honoured (<c>kvm_vcpu_after_set_cpuid</c>, 6.1's
    /// <c>guest_cpuid_has</c>): a leaf-1 entry flagged for sub-leaf 1 states no feature, and CR4.OSXSAVE stays reserved;
    /// the same entry without the flag answers sub-leaf 0 too. The dynamic capability bits are looked up alike.
    /// </summary>
    [Fact]
    public void A_leaf_1_entry_flagged_for_another_sub_leaf_states_no_feature()
    {
        const uint xsaveSse3Mwait = (1u << 26) | (1u << 3) | 1u;
        var flagged = CpuidTable.Of(CpuidEntry.Indexed(1, 1, 0, 0, xsaveSse3Mwait, 0));
        var plain = CpuidTable.Of(CpuidEntry.Plain(1, 0, 0, xsaveSse3Mwait, 0));

        Assert.Equal(0ul, GuestCpuCaps.Derive(flagged, 0, 0).Features);
        Assert.NotEqual(0ul, GuestCpuCaps.Derive(flagged, 0, 0).Cr4ReservedByFeatures & Cr4.OsXsave);
        Assert.Equal(Features("XSAVE", "SSE3"), GuestCpuCaps.Derive(plain, 0, 0).Features);
        Assert.Equal(DynamicCaps.None, DynamicBits.CapsOf(flagged));
        Assert.Equal(DynamicCaps.Mwait, DynamicBits.CapsOf(plain));
    }

    [Fact]
    public void The_CR4_bits_a_derived_guest_reserves_follow_its_features_and_the_profiles_allow_list()
    {
        var table = CpuidTable.Of(Leaf(1, 0, ecx: 1u << 26), Leaf(7, 0, ecx: 1u << 3));

        var caps = GuestCpuCaps.Derive(table, 0, 0, alwaysReservedCr4: Cr4.Cet);

        Assert.Equal(GuestCpuCaps.Cr4Reserved(Features("XSAVE", "PKU")) | Cr4.Cet, caps.Cr4ReservedByFeatures);
        Assert.Equal(0ul, caps.Cr4ReservedByFeatures & (Cr4.OsXsave | Cr4.Pke));
    }

    [Fact]
    public void Guest_MWAIT_comes_from_the_cached_dynamic_bits_and_every_other_feature_from_the_static_ones()
    {
        var staticMwait = new Vcpu { Rare = VcpuRare.AtReset with { Guest = GuestCaps.None with { Features = AllFeatures } } };
        var cachedMwait = new Vcpu { Caps = DynamicCaps.Mwait };

        Assert.False(GuestCpuCaps.Has(staticMwait, GuestFeature.Mwait));
        Assert.True(GuestCpuCaps.Has(staticMwait, GuestFeature.Sse3));
        Assert.True(GuestCpuCaps.Has(cachedMwait, GuestFeature.Mwait));
        Assert.False(GuestCpuCaps.Has(cachedMwait, GuestFeature.Sse3));
    }
}
