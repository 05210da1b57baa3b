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
}
