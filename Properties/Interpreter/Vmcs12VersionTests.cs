using CpuidFunctional.Interpreter.Execution;
using CpuidFunctional.Interpreter.Vmx;

namespace CpuidFunctional.Properties.Interpreter;

/// <summary>
/// vmcs12 versions share the block of exit fields other than GUEST_RIP (and the launch state) until one of them
/// changes. Whatever is shared, a version reads and compares by content.
/// </summary>
public class Vmcs12VersionTests
{
    private static readonly Vmcs12 Launched = Vmcs12.Clear.WithLaunched(true);

    private static Vmcs12ExitFields CpuidExit(ulong rip) => new(ExitReason.Cpuid, 0, 2, 0, 0, rip, 0x8000, 0x2, 0x8005_0033, 0x2020);

    [Fact]
    public void Two_versions_written_apart_with_the_same_fields_are_equal_and_hash_alike()
    {
        var a = Launched.Write(VmcsField.GuestRsp, 0x7000).Write(VmcsField.GuestRip, 0x1234);
        var b = Launched.Write(VmcsField.GuestRip, 0x1234).Write(VmcsField.GuestRsp, 0x7000);
        Assert.Equal(a, b);
        Assert.Equal(a.GetHashCode(), b.GetHashCode());
    }

    [Fact]
    public void Versions_that_differ_only_in_guest_rip_or_only_in_another_exit_field_are_not_equal()
    {
        var exited = Launched.WithExitFields(CpuidExit(0x1000));
        Assert.NotEqual(exited, exited.Write(VmcsField.GuestRip, 0x1002));
        Assert.NotEqual(exited, exited.Write(VmcsField.GuestCr4, 0x2060));
        Assert.NotEqual(exited, exited.WithLaunched(false));
    }

    [Fact]
    public void A_vm_exit_after_a_vmwrite_of_guest_rip_reads_back_every_exit_field_it_wrote()
    {
        var exit = CpuidExit(0x1000);
        var v = Launched.WithExitFields(exit).Write(VmcsField.GuestRip, 0x1002).WithExitFields(exit);
        Assert.Equal(Launched.WithExitFields(exit), v);
        Assert.Equal(0x1000ul, v.Read(VmcsField.GuestRip));
        Assert.Equal(ExitReason.Cpuid, (uint)v.Read(VmcsField.VmExitReason));
        Assert.Equal(2ul, v.Read(VmcsField.VmExitInstructionLen));
        Assert.Equal(0x2020ul, v.Read(VmcsField.GuestCr4));
        Assert.True(v.Launched);
    }

    [Fact]
    public void Writing_an_exit_field_keeps_the_launch_state_and_the_chunked_fields()
    {
        var v = Launched.Write(VmcsField.HostCr4, 0x2660).Write(VmcsField.GuestRflags, 0x202).Write(VmcsField.GuestRip, 0x10);
        Assert.True(v.Launched);
        Assert.Equal(0x2660ul, v.Read(VmcsField.HostCr4));
        Assert.Equal(0x202ul, v.Read(VmcsField.GuestRflags));
        Assert.Equal(0x10ul, v.Read(VmcsField.GuestRip));
    }

    [Fact]
    public void Writing_a_field_with_the_value_it_holds_returns_the_same_version()
    {
        var v = Launched.Write(VmcsField.HostCr4, 0x2660).WithExitFields(CpuidExit(0x1000));
        Assert.Same(v, v.Write(VmcsField.HostCr4, 0x2660));
        Assert.Same(v, v.Write(VmcsField.GuestRip, 0x1000));
        Assert.Same(v, v.Write(VmcsField.Cr3TargetCount, 0)); // an unwritten field reads 0
        Assert.NotSame(v, v.Write(VmcsField.HostCr4, 0x2620));
    }

    [Fact]
    public void A_run_gets_back_the_versions_it_made_when_an_exit_and_a_vmwrite_of_guest_rip_repeat()
    {
        var versions = new VmcsVersions();
        var exited = versions.WithExitFields(Launched, CpuidExit(0x1000));
        var resumed = versions.Write(exited, VmcsField.GuestRip, 0x1002);
        var again = versions.WithExitFields(resumed, CpuidExit(0x1000));
        Assert.Same(exited, again);
        Assert.Same(resumed, versions.Write(again, VmcsField.GuestRip, 0x1002));
        Assert.Equal(Launched.WithExitFields(CpuidExit(0x1000)), again);
    }

    [Fact]
    public void A_run_does_not_reuse_a_version_whose_launch_state_chunked_fields_or_exit_fields_differ()
    {
        var versions = new VmcsVersions();
        var exited = versions.WithExitFields(Launched, CpuidExit(0x1000));

        var cleared = versions.WithExitFields(exited.WithLaunched(false), CpuidExit(0x1000));
        Assert.False(cleared.Launched);

        var hostMoved = exited.Write(VmcsField.HostCr4, 0x2660);
        var afterHostWrite = versions.WithExitFields(hostMoved, CpuidExit(0x1000));
        Assert.Equal(0x2660ul, afterHostWrite.Read(VmcsField.HostCr4));

        var otherCr4 = versions.WithExitFields(exited, CpuidExit(0x1000) with { GuestCr4 = 0x2060 });
        Assert.Equal(0x2060ul, otherCr4.Read(VmcsField.GuestCr4));
        Assert.Equal(exited.WithExitFields(CpuidExit(0x1000) with { GuestCr4 = 0x2060 }), otherCr4);
    }

    [Fact]
    public void A_run_remembers_four_versions_so_an_l2_alternating_its_cr4_reuses_all_of_them()
    {
        var versions = new VmcsVersions();
        Vmcs12[] Round(Vmcs12 from)
        {
            var a = versions.WithExitFields(from, CpuidExit(0x1000));
            var b = versions.Write(a, VmcsField.GuestRip, 0x1002);
            var c = versions.WithExitFields(b, CpuidExit(0x1000) with { GuestCr4 = 0x2060 });
            var d = versions.Write(c, VmcsField.GuestRip, 0x1002);
            return [a, b, c, d];
        }
        var first = Round(Launched);
        var second = Round(first[^1]);
        Assert.Equal(first.Length, second.Length);
        for (var k = 0; k < first.Length; k++)
        {
            Assert.Same(first[k], second[k]);
        }
    }

    [Fact]
    public void Recent_forgets_the_oldest_instance_once_it_holds_its_capacity()
    {
        var recent = new Recent<string>(2);
        var a = recent.Remember(new string('a', 1));
        recent.Remember(new string('b', 1));
        Assert.Same(a, recent.Find("a", static (m, k) => m == k));
        recent.Remember(new string('c', 1));
        Assert.Null(recent.Find("a", static (m, k) => m == k));
        Assert.NotNull(recent.Find("b", static (m, k) => m == k));
        Assert.NotNull(recent.Find("c", static (m, k) => m == k));
    }
}
