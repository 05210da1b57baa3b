using CpuidFunctional.Core.Dynamic;

namespace CpuidFunctional.Properties.Core;

/// <summary>
/// KVM_CHECK_EXTENSION for the capabilities the model answers (<see cref="CheckExtension"/>). Each answer comes from a
/// rule the model uses elsewhere, so each test also holds the answer against that rule: what a VMM reads first is
/// what the later ioctl then does. The live test of the same capabilities asks the kernel.
/// </summary>
public class CheckExtensionTests
{
    private static readonly Observation Ok0 = new Observation.IoctlDone(0);
    private static readonly Observation Einval = new Observation.IoctlError(Errno.EINVAL);

    private static Vm Vm(HostCpu host, KernelProfile profile, bool amxRequested = true) =>
        new(host, profile) { XcompGuestPermRequested = amxRequested };

    private static readonly string[] Kernels = ["6.1", "6.15", "6.18"];

    public static TheoryData<string, string> HostsAndKernels => new(from host in HostPresets.Names from profile in Kernels select (host, profile));

    private static KernelProfile Profile(string version) =>
        version switch
        {
            "6.1" => KernelProfile.Linux6_1,
            "6.15" => KernelProfile.Linux6_15,
            _ => KernelProfile.Linux6_18,
        };

    [Fact]
    public void KVM_CAP_XSAVE2_is_4096_bytes_on_hosts_without_AMX()
    {
        foreach (var host in new[] { HostPresets.SkylakeSp, HostPresets.IcelakeSp, HostPresets.Genoa })
        {
            Assert.Equal(4096, CheckExtension.Answer(Vm(host, KernelProfile.Linux6_18), KvmCapability.Xsave2));
            Assert.Equal(4096, CheckExtension.Answer(Vm(host, KernelProfile.Linux6_1), KvmCapability.Xsave2));
        }
    }

    [Theory]
    [InlineData("6.1")]
    [InlineData("6.18")]
    public void With_AMX_permission_KVM_CAP_XSAVE2_covers_the_tile_data_as_amx_test_needs(string kernel)
    {
        // XTILEDATA sits at 0xB00 and is 0x2000 bytes: the buffer KVM_GET_XSAVE2 fills is 0x2B00 bytes.
        var vm = Vm(HostPresets.SapphireRapids, Profile(kernel));
        Assert.Equal(0x2B00, CheckExtension.Answer(vm, KvmCapability.Xsave2));
    }

    [Theory]
    [InlineData("6.1")]
    [InlineData("6.18")]
    public void Without_AMX_permission_KVM_CAP_XSAVE2_falls_back_to_4096_bytes(string kernel)
    {
        // 6.18 leaves both AMX components out (0xA88 bytes), 6.1 keeps XTILECFG (0xB00): both below struct kvm_xsave.
        var vm = Vm(HostPresets.SapphireRapids, Profile(kernel), amxRequested: false);
        Assert.Equal(4096, CheckExtension.Answer(vm, KvmCapability.Xsave2));
    }

    [Theory]
    [MemberData(nameof(HostsAndKernels))]
    public void KVM_CAP_XSAVE2_is_the_supported_standard_size_of_0xD_0_but_at_least_4096(string hostName, string kernel)
    {
        foreach (var requested in new[] { true, false })
        {
            var vm = Vm(HostPresets.All[hostName], Profile(kernel), requested);
            var ebx = SupportedCpuid.Answer(vm, 0xD, 0, CpuidRegister.Ebx);
            Assert.Equal(uint.MaxValue, ebx.Mask);
            Assert.Equal(Math.Max(4096, (int)ebx.Value), CheckExtension.Answer(vm, KvmCapability.Xsave2));
        }
    }

    [Fact]
    public void KVM_CAP_XCRS_is_0_exactly_where_KVM_SET_XCRS_refuses_every_list()
    {
        var withXsave = new Vm(HostPresets.SkylakeSp);
        var withoutXsave = new Vm(HostCpu.FromCpuid(
            "skylake-sp without XSAVE",
            CpuidTable.Of(HostPresets.SkylakeSp.Cpuid.Entries.Select(e => e.Function == 1 ? e.WithBit(CpuidRegister.Ecx, 26, false) : e))));
        foreach (var (vm, cap, setXcrs) in new[] { (withXsave, 1, Ok0), (withoutXsave, 0, Einval) })
        {
            Assert.Equal(cap, CheckExtension.Answer(vm, KvmCapability.Xcrs));
            var s = KvmState.WithCpuid(vm, Policy.Lazy, vm.Host.Cpuid);
            Assert.Equal(setXcrs, Kvm.Step(Policy.Lazy, s, new VcpuEvent.SetXcrs(Xcr0.Fp | Xcr0.Sse)).Observation);
        }
        Assert.Equal(1, CheckExtension.Answer(withoutXsave, KvmCapability.Xsave));
    }

    [Theory]
    [MemberData(nameof(HostsAndKernels))]
    public void A_VMM_may_disable_exactly_the_quirks_KVM_CAP_DISABLE_QUIRKS2_names(string hostName, string kernel)
    {
        var vm = new Vm(HostPresets.All[hostName], Profile(kernel));
        var offered = (ulong)CheckExtension.Answer(vm, KvmCapability.DisableQuirks2)!.Value;
        var s = KvmState.Create(vm, Policy.Lazy);

        Assert.Equal(Ok0, Kvm.Step(Policy.Lazy, s, new VcpuEvent.DisableQuirks2(offered)).Observation);
        var next = 1ul << (64 - System.Numerics.BitOperations.LeadingZeroCount(offered));
        Assert.Equal(Einval, Kvm.Step(Policy.Lazy, s, new VcpuEvent.DisableQuirks2(offered | next)).Observation);
    }

    [Theory]
    [MemberData(nameof(HostsAndKernels))]
    public void From_6_14_a_new_VM_may_disable_exactly_the_exits_KVM_CAP_X86_DISABLE_EXITS_names(string hostName, string kernel)
    {
        var vm = new Vm(HostPresets.All[hostName], Profile(kernel));
        var offered = (ulong)CheckExtension.Answer(vm, KvmCapability.X86DisableExits)!.Value;

        Assert.Equal(DisableExits.Hlt, offered & DisableExits.Hlt);
        if (kernel == "6.1")
        {
            // 6.1 takes its four valid bits whatever it offers.
            Assert.NotNull(DisableExits.Enable(vm, DisableExits.ValidBefore614, vcpuCreated: false));
            return;
        }
        Assert.Equal(offered, DisableExits.Enable(vm, offered, vcpuCreated: false)!.DisabledExits);
        for (var bit = 0; bit < 5; bit++)
        {
            var exit = 1ul << bit;
            Assert.Equal((offered & exit) != 0, DisableExits.Enable(vm, exit, vcpuCreated: false) is not null);
        }
    }

    [Fact]
    public void The_model_does_not_answer_capabilities_that_depend_on_the_vendor_modules_set_up()
    {
        var vm = new Vm(HostPresets.Genoa);
        Assert.Null(CheckExtension.Answer(vm, KvmCapability.X86Smm));
        Assert.Null(CheckExtension.Answer(vm, KvmCapability.NestedState));
        Assert.Null(CheckExtension.Answer(vm, KvmCapability.Sregs2));
        Assert.All(CheckExtension.Known, c => Assert.NotNull(CheckExtension.Answer(vm, c)));
    }

    [Fact]
    public void Capabilities_are_named_as_linux_kvm_h_names_them()
    {
        Assert.Equal("KVM_CAP_XSAVE2", CheckExtension.KvmName(KvmCapability.Xsave2));
        Assert.Equal(208u, (uint)KvmCapability.Xsave2);
        Assert.Equal(213u, (uint)KvmCapability.DisableQuirks2);
        Assert.Equal(143u, (uint)KvmCapability.X86DisableExits);
        Assert.Equal(56u, (uint)KvmCapability.Xcrs);
        Assert.Equal(55u, (uint)KvmCapability.Xsave);
    }
}
