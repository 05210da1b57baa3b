using CpuidFunctional.Properties.Generators;
using CsCheck;

namespace CpuidFunctional.Properties.Core;

/// <summary>
/// <see cref="Vcpu"/> keeps CR4's low half only (bits 63:32 are reserved) and its three flags in one byte; what a
/// caller sets is what it reads back, and a CR4 no check of KVM lets through is refused where the vCPU is built.
/// </summary>
public class VcpuStorageTests
{
    [Fact]
    public void Every_CR4_of_32_bits_and_every_combination_of_the_flags_reads_back_as_set_and_leaves_the_rest_alone() =>
        Gen.Select(StateGen.Vcpu, Gen.UInt, Gen.Bool, Gen.Bool, Gen.Bool).Sample(
            (v, cr4, hasRun, guestMode, dirty) =>
            {
                var w = v with { Cr4 = cr4, HasRun = hasRun, GuestMode = guestMode, CpuidDynamicBitsDirty = dirty };
                var back = w with { Cr4 = v.Cr4, HasRun = v.HasRun, GuestMode = v.GuestMode, CpuidDynamicBitsDirty = v.CpuidDynamicBitsDirty };
                return w.Cr4 == cr4 && w.HasRun == hasRun && w.GuestMode == guestMode && w.CpuidDynamicBitsDirty == dirty
                    && w.Xcr0 == v.Xcr0 && w.Cpl == v.Cpl && w.Caps == v.Caps && back == v;
            }
        );

    [Theory]
    [InlineData(1ul << 32)]
    [InlineData(0x8000_0000_0000_0020ul)]
    [InlineData(ulong.MaxValue)]
    public void A_CR4_with_a_reserved_upper_bit_is_refused_when_a_vcpu_is_built(ulong cr4)
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new Vcpu { Cr4 = cr4 });

        Assert.Contains($"CR4 0x{cr4:X}: bits 63:32 are reserved", error.Message, StringComparison.Ordinal);
        Assert.Equal("Cr4", error.ParamName);
    }

    [Fact]
    public void The_highest_CR4_of_32_bits_is_kept_whole() =>
        Assert.Equal(0xFFFF_FFFFul, new Vcpu { Cr4 = 0xFFFF_FFFF }.Cr4);
}
