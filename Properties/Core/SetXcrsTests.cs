using static CpuidFunctional.Properties.Core.TestHosts;

namespace CpuidFunctional.Properties.Core;

/// <summary>
/// KVM_SET_XCRS's list (<c>kvm_vcpu_ioctl_x86_set_xcrs</c>): at most KVM_MAX_XCRS entries and no flags, and only the
/// first XCR0 entry goes to <c>__kvm_set_xcr</c>. The live test of the same name checks these against the kernel.
/// </summary>
public class SetXcrsTests
{
    private static readonly Observation Ok0 = new Observation.IoctlDone(0);
    private static readonly Observation Einval = new Observation.IoctlError(Errno.EINVAL);

    private static VcpuEvent.SetXcrs Xcrs(params (uint Xcr, ulong Value)[] entries) =>
        new(new ValueArray<XcrEntry>([.. entries.Select(e => new XcrEntry(e.Xcr, e.Value))]));

    [Theory]
    [InlineData("Lazy")]
    [InlineData("Eager")]
    public void Only_the_first_XCR0_entry_is_set_and_entries_for_other_XCRs_are_ignored(string policyName)
    {
        var policy = policyName == "Lazy" ? Policy.Lazy : Policy.Eager;
        var s = Running(policy);
        var t = Kvm.Step(policy, s, Xcrs((1, 1), (0, 0xE7), (0, 0x3)));
        Assert.Equal(Ok0, t.Observation);
        Assert.Equal(0xE7ul, t.State.Vcpu.Xcr0);
        Assert.Equal(Kvm.Step(policy, s, new VcpuEvent.SetXcrs(0xE7)).State, t.State);
    }

    [Fact]
    public void A_list_without_an_XCR0_entry_returns_0_and_changes_nothing()
    {
        var s = Running(Policy.Lazy);
        foreach (var e in new[] { Xcrs((1, 1)), Xcrs(), Xcrs((2, 3), (0x8000_0000, 0xE7)), Xcrs((1, 3)) })
        {
            var t = Kvm.Step(Policy.Lazy, s, e);
            Assert.Equal(Ok0, t.Observation);
            Assert.Same(s.Vcpu, t.State.Vcpu);
        }
    }

    [Fact]
    public void A_refused_first_XCR0_entry_is_EINVAL_even_where_a_later_one_would_be_accepted()
    {
        var s = Running(Policy.Lazy);
        var t = Kvm.Step(Policy.Lazy, s, Xcrs((0, 0x2), (0, 0xE7)));
        Assert.Equal(Einval, t.Observation);
        Assert.Equal(0x7ul, t.State.Vcpu.Xcr0);
    }

    [Fact]
    public void More_than_16_entries_or_any_flag_is_EINVAL_before_an_entry_is_looked_at()
    {
        var s = Running(Policy.Lazy);
        var sixteen = Enumerable.Repeat((0u, 0xE7ul), 16).ToArray();
        Assert.Equal(Ok0, Kvm.Step(Policy.Lazy, s, Xcrs(sixteen)).Observation);
        Assert.Equal(Einval, Kvm.Step(Policy.Lazy, s, Xcrs([.. sixteen, (0u, 0xE7ul)])).Observation);
        foreach (var flags in new uint[] { 1, 0x8000_0000 })
        {
            var t = Kvm.Step(Policy.Lazy, s, Xcrs((0, 0xE7)) with { Flags = flags });
            Assert.Equal(Einval, t.Observation);
            Assert.Same(s.Vcpu, t.State.Vcpu);
        }
    }

    [Theory]
    [InlineData(0x7ul, "KVM_SET_XCRS xcr0=0x7")]
    [InlineData(0x2E7ul, "KVM_SET_XCRS xcr0=0x2e7")]
    public void A_one_entry_KVM_SET_XCRS_reads_as_it_always_has_in_traces(ulong xcr0, string text) =>
        Assert.Equal(text, new VcpuEvent.SetXcrs(xcr0).ToString());

    [Fact]
    public void A_list_with_flags_names_every_entry_in_order_and_the_flags()
    {
        Assert.Equal("KVM_SET_XCRS xcr1=0x1 xcr0=0x7 flags=0x2", (Xcrs((1, 1), (0, 7)) with { Flags = 2 }).ToString());
        Assert.Equal("KVM_SET_XCRS nr_xcrs=0", Xcrs().ToString());
    }
}
