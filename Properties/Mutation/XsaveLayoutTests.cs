namespace CpuidFunctional.Properties.Mutation;

/// <summary>
/// Absolute expectations for <see cref="XsaveLayout"/> beyond the size properties of Properties/Host: which CPUID.0xD
/// sub-leaves make a component (<c>kvm_init_xstate_sizes</c> reads 0xD.i for i ≥ 2, EAX size, EBX offset, ECX
/// flags), the standard size as the furthest end (<c>xstate_required_size</c> takes the maximum of offset + size), the
/// 64-byte rounding, and value equality, each with numbers worked by hand.
/// </summary>
public class XsaveLayoutTests
{
    private static CpuidEntry Leaf(uint index, uint eax, uint ebx = 0, uint ecx = 0) =>
        new(0xD, index, CpuidFlags.SignificantIndex, eax, ebx, ecx, 0);

    [Fact]
    public void A_host_layout_has_one_component_per_0xD_sub_leaf_from_2_to_63_with_a_size()
    {
        var layout = XsaveLayout.FromCpuid(
            CpuidTable.Of(
                Leaf(0, 0x7, 832, 832),
                Leaf(1, 0xF, 0, 0x100),
                Leaf(2, 256, 576),
                Leaf(3, 0, 960), // no size: not a component
                Leaf(9, 8, 2688, 0b10),
                Leaf(63, 4, 4096),
                Leaf(64, 4, 8192),
                new CpuidEntry(0xC, 5, CpuidFlags.SignificantIndex, 64, 64, 0, 0)
            )
        );

        Assert.Equal(
            [new XsaveComponent(2, 256, 576, 0), new XsaveComponent(9, 8, 2688, 2), new XsaveComponent(63, 4, 4096, 0)],
            layout.Components
        );
        Assert.Equal(new XsaveComponent(3, 0, 0, 0), layout[3]);
        Assert.Equal(new XsaveComponent(5, 0, 0, 0), layout[5]);
        Assert.Equal(new XsaveComponent(1, 0, 0, 0), layout[1]);
    }

    [Fact]
    public void Of_keeps_components_2_to_63_and_drops_the_others()
    {
        var layout = XsaveLayout.Of([new(0, 512, 0, 0), new(1, 64, 0, 0), new(2, 256, 576, 0), new(63, 8, 4096, 0), new(64, 8, 8192, 0)]);

        Assert.Equal([2, 63], layout.Components.Select(c => c.Index));
    }

    [Fact]
    public void The_standard_size_is_the_furthest_end_of_a_requested_component_not_the_last_ones()
    {
        var layout = XsaveLayout.Of([new(2, 64, 2000, 0), new(5, 64, 1000, 0)]);

        Assert.Equal(2064u, layout.RequiredSize((1ul << 2) | (1ul << 5) | 3, compacted: false));
        Assert.Equal(1064u, layout.RequiredSize((1ul << 5) | 3, compacted: false));
        Assert.Equal(576u + 64 + 64, layout.RequiredSize((1ul << 2) | (1ul << 5) | 3, compacted: true));
    }

    [Theory]
    [InlineData(256u, true, 576u + 256 + 8)] // 832 is a multiple of 64 already
    [InlineData(260u, true, 896u + 8)] // 836 rounds up to 896
    [InlineData(260u, false, 836u + 8)] // the pre-2022 bug: no rounding
    [InlineData(257u, true, 896u + 8)] // 833 rounds up to 896
    [InlineData(320u, true, 896u + 8)] // 896 stays
    public void A_compacted_component_with_ECX_bit_1_starts_at_the_next_multiple_of_64(uint avxSize, bool honourAlignment, uint expected)
    {
        var layout = XsaveLayout.Of([new(2, avxSize, 576, 0), new(9, 8, 2688, 0b10)]);

        Assert.Equal(expected, layout.RequiredSize(0x207, compacted: true, honourAlignment));
    }

    [Fact]
    public void An_unaligned_component_in_the_compacted_format_follows_the_previous_one_directly()
    {
        var layout = XsaveLayout.Of([new(2, 260, 576, 0), new(9, 8, 2688, 0)]);

        Assert.Equal(844u, layout.RequiredSize(0x207, compacted: true));
    }

    [Fact]
    public void A_requested_component_the_host_lacks_adds_nothing()
    {
        var layout = XsaveLayout.Of([new(2, 256, 576, 0)]);

        Assert.Equal(832u, layout.RequiredSize(0x7 | (1ul << 40), compacted: false));
        Assert.Equal(832u, layout.RequiredSize(0x7 | (1ul << 40), compacted: true));
    }

    [Fact]
    public void Layouts_with_the_same_components_are_equal_and_hash_alike_whatever_the_order_given()
    {
        var a = XsaveLayout.Of([new(2, 256, 576, 0), new(9, 8, 2688, 2)]);
        var b = XsaveLayout.Of([new(9, 8, 2688, 2), new(2, 256, 576, 0)]);

        Assert.True(a.Equals(b));
        Assert.True(a.Equals((object)b));
        Assert.True(a == b);
        Assert.False(a != b);
        Assert.Equal(a.GetHashCode(), b.GetHashCode());
    }

    [Fact]
    public void Layouts_that_differ_in_one_field_of_one_component_are_not_equal()
    {
        var a = XsaveLayout.Of([new(2, 256, 576, 0), new(9, 8, 2688, 2)]);

        foreach (var other in new[]
        {
            XsaveLayout.Of([new(2, 256, 576, 0), new(9, 8, 2688, 0)]),
            XsaveLayout.Of([new(2, 256, 576, 0), new(9, 8, 2752, 2)]),
            XsaveLayout.Of([new(2, 256, 576, 0), new(9, 16, 2688, 2)]),
            XsaveLayout.Of([new(2, 256, 576, 0), new(10, 8, 2688, 2)]),
            XsaveLayout.Of([new(2, 256, 576, 0)]),
        })
        {
            Assert.False(a.Equals(other), other.ToString());
            Assert.False(a == other);
            Assert.True(a != other);
        }
        Assert.False(a.Equals(null));
        Assert.False(a == null);
        Assert.True(a != null);
        Assert.True((XsaveLayout?)null == null);
        Assert.False(a.Equals("a layout"));
    }

    [Fact]
    public void A_layout_prints_its_present_components_one_per_line()
    {
        var layout = XsaveLayout.Of([new(2, 256, 576, 0), new(9, 8, 2688, 2)]);

        Assert.Equal("XsaveLayout\n   2: size 0x100 offset 0x240\n   9: size 0x8 offset 0xa80 align64", layout.ToString());
    }
}
