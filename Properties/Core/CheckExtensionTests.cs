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

    /// <summary>Each answer on each preset and profile, as the kernels' rules give it (not as the model computes it).</summary>
    [Theory]
    [InlineData("skylake-sp", "6.1", 0xF, 0x7F)]
    [InlineData("skylake-sp", "6.15", 0xF, 0x1FF)]
    [InlineData("skylake-sp", "6.18", 0x1F, 0x7FF)] // MWAIT with ARAT, APERFMPERF (6.17); IGNORE_GUEST_PAT with SELFSNOOP
    [InlineData("icelake-sp", "6.1", 0xF, 0x7F)]
    [InlineData("icelake-sp", "6.18", 0x1F, 0x7FF)]
    [InlineData("sapphire-rapids", "6.15", 0xF, 0x1FF)]
    [InlineData("sapphire-rapids", "6.18", 0x1F, 0x7FF)]
    [InlineData("genoa", "6.1", 0xF, 0x7F)]
    [InlineData("genoa", "6.18", 0x1F, 0x7FF)] // kvm_amd keeps IGNORE_GUEST_PAT (NPT)
    public void Every_preset_gets_the_kernels_answers(string hostName, string kernel, int exits, int quirks)
    {
        var vm = new Vm(HostPresets.All[hostName], Profile(kernel));
        var xsave2 = hostName == "sapphire-rapids" ? 0x2B00 : 4096;

        Assert.Equal(
            $"XSAVE 1, XCRS 1, X86_DISABLE_EXITS 0x{exits:x}, XSAVE2 0x{xsave2:x}, DISABLE_QUIRKS2 0x{quirks:x}",
            $"XSAVE {CheckExtension.Answer(vm, KvmCapability.Xsave)}, XCRS {CheckExtension.Answer(vm, KvmCapability.Xcrs)}, "
            + $"X86_DISABLE_EXITS 0x{CheckExtension.Answer(vm, KvmCapability.X86DisableExits):x}, XSAVE2 0x{CheckExtension.Answer(vm, KvmCapability.Xsave2):x}, "
            + $"DISABLE_QUIRKS2 0x{CheckExtension.Answer(vm, KvmCapability.DisableQuirks2):x}");
    }

    [Fact]
    public void A_host_without_XSAVE_has_no_supported_XCR0_so_KVM_CAP_XSAVE2_is_4096_even_with_AMX_permission()
    {
        var host = HostCpu.FromCpuid(
            "sapphire-rapids without XSAVE",
            CpuidTable.Of(HostPresets.SapphireRapids.Cpuid.Entries.Select(e => e.Function == 1 ? e.WithBit(CpuidRegister.Ecx, 26, false) : e)));
        var vm = Vm(host, KernelProfile.Linux6_18);

        Assert.Equal(0ul, SupportedCpuid.SupportedXcr0(host));
        Assert.Equal(4096, CheckExtension.Answer(vm, KvmCapability.Xsave2));
        Assert.Equal(0, CheckExtension.Answer(vm, KvmCapability.Xcrs));
    }

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

        if (kernel == "6.1")
        {
            // 6.1 offers its four valid bits but MWAIT where the guest may not run it, and takes all four anyway.
            Assert.Equal(DisableExits.ValidBefore614 & (DisableExits.CanMwaitInGuest(vm.Host) ? ulong.MaxValue : ~DisableExits.Mwait), offered);
            Assert.Equal(offered, DisableExits.Enable(vm, DisableExits.ValidBefore614, vcpuCreated: false)!.DisabledExits);
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
    public void The_model_does_not_answer_capabilities_of_the_vendor_modules_set_up_or_of_ioctls_it_lacks()
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
        Assert.Equal(117u, (uint)KvmCapability.X86Smm);
        Assert.Equal(157u, (uint)KvmCapability.NestedState);
        Assert.Equal(200u, (uint)KvmCapability.Sregs2);
    }
}
