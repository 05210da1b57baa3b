using CsCheck;

namespace CpuidFunctional.Properties.Host;

/// <summary>
/// Invariants of <c>xstate_required_size</c> over random layouts, Intel-like (subsets of the SDM table, with the MPX
/// hole) and AMD-like (packed, random sizes, holes and alignment flags, supervisor components at offset 0).
/// Compacted ≤ standard is not one of them: a supervisor component adds to the compacted size only.
/// </summary>
public class XsaveLayoutProperties
{
    private const int Slots = 22; // components 2..23: beyond anything shipped today

    private static readonly XsaveComponent[] IntelComponents = [.. SpecWorkedXsaveValueTests.SpecIntelLayout.Components];

    private static readonly Gen<XsaveLayout> IntelLike =
        Gen.Bool.Array[IntelComponents.Length].Select(keep => XsaveLayout.Of(IntelComponents.Where((_, i) => keep[i])));

    private static readonly Gen<XsaveLayout> AmdLike =
        from present in Gen.Bool.Array[Slots]
        from sizes in Gen.UInt[1, 0x400].Array[Slots]
        from supervisor in Gen.Bool.Array[Slots]
        from aligned in Gen.Bool.Array[Slots]
        from holes in Gen.UInt[0, 3].Array[Slots]
        select Packed(present, sizes, supervisor, aligned, holes);

    private static readonly Gen<XsaveLayout> Layout = Gen.OneOf(IntelLike, AmdLike);

    // Mostly masks within the components that exist, sometimes any 64 bits.
    private static readonly Gen<ulong> Mask = Gen.Frequency((3, Gen.ULong[0, (1ul << (Slots + 2)) - 1]), (1, Gen.ULong));

    private static readonly Gen<int> Bit = Gen.Int[0, 63];

    private static XsaveLayout Packed(bool[] present, uint[] sizes, bool[] supervisor, bool[] aligned, uint[] holes)
    {
        var components = new List<XsaveComponent>();
        var end = XsaveLayout.LegacyAndHeaderSize;
        for (var k = 0; k < Slots; k++)
        {
            if (!present[k])
            {
                continue;
            }
            var size = sizes[k] * 8;
            var flags = aligned[k] ? 2u : 0u;
            if (supervisor[k])
            {
                components.Add(new XsaveComponent(k + 2, size, 0, flags | 1));
                continue;
            }
            end += holes[k] * 64;
            components.Add(new XsaveComponent(k + 2, size, end, flags));
            end += size;
        }
        return XsaveLayout.Of(components);
    }

    private static uint AlignUp(uint value, bool align64) => align64 ? (value + 63) & ~63u : value;

    [Fact]
    public void Adding_a_component_never_shrinks_either_size() =>
        Gen.Select(Layout, Mask, Bit).Sample(
            (layout, mask, bit) =>
                layout.RequiredSize(mask | (1ul << bit), compacted: false) >= layout.RequiredSize(mask, compacted: false)
                && layout.RequiredSize(mask | (1ul << bit), compacted: true) >= layout.RequiredSize(mask, compacted: true),
            iter: 2000
        );

    [Fact]
    public void Masks_within_x87_and_SSE_need_exactly_the_legacy_area_and_header() =>
        Gen.Select(Layout, Gen.ULong[0, 3], Gen.Bool).Sample(
            (layout, mask, bit63) =>
            {
                var m = mask | (bit63 ? 1ul << 63 : 0);
                return layout.RequiredSize(m, compacted: false) == 576 && layout.RequiredSize(m, compacted: true) == 576;
            },
            iter: 500
        );

    [Fact]
    public void Compacted_size_of_one_component_is_the_aligned_legacy_area_plus_its_size() =>
        Gen.Select(Layout, Gen.Int[2, Slots + 1], Gen.ULong[0, 3]).Sample(
            (layout, index, legacy) =>
            {
                var c = layout[index];
                return layout.RequiredSize((1ul << index) | legacy, compacted: true) == AlignUp(576, c.Align64) + c.Size;
            },
            iter: 2000
        );

    [Fact]
    public void Compacted_size_of_two_components_aligns_the_second_after_the_first() =>
        Gen.Select(Layout, Gen.Int[2, Slots + 1], Gen.Int[2, Slots + 1]).Where((_, a, b) => a < b).Sample(
            (layout, a, b) =>
            {
                var (first, second) = (layout[a], layout[b]);
                var expected = AlignUp(AlignUp(576, first.Align64) + first.Size, second.Align64) + second.Size;
                return layout.RequiredSize((1ul << a) | (1ul << b), compacted: true) == expected;
            },
            iter: 2000
        );

    [Fact]
    public void Standard_size_of_one_user_component_is_its_end_in_the_standard_format() =>
        Gen.Select(Layout, Gen.Int[2, Slots + 1]).Sample(
            (layout, index) =>
            {
                var c = layout[index];
                return layout.RequiredSize(1ul << index, compacted: false) == Math.Max(576, c.Offset + c.Size);
            },
            iter: 2000
        );

    [Fact]
    public void Bit_63_is_ignored() =>
        Gen.Select(Layout, Mask).Sample(
            (layout, mask) =>
                layout.RequiredSize(mask | (1ul << 63), compacted: false) == layout.RequiredSize(mask & ~(1ul << 63), compacted: false)
                && layout.RequiredSize(mask | (1ul << 63), compacted: true) == layout.RequiredSize(mask & ~(1ul << 63), compacted: true),
            iter: 2000
        );

    [Fact]
    public void A_supervisor_component_can_make_compacted_larger_than_standard()
    {
        // Why "compacted <= standard" is not an invariant: Skylake-SP with Intel PT (XSS bit 8) enabled.
        var skylake = HostPresets.SkylakeSp.Xsave;

        Assert.True(skylake.RequiredSize(0x7 | 0x100, compacted: true) > skylake.RequiredSize(0x7, compacted: false));
    }
}
