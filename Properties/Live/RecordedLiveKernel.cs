using CpuidFunctional.Oracle;

namespace CpuidFunctional.Properties.Live;

/// <summary>
/// The live kernel as recorded by shared/kvm/dyncpuid.c on 6.18.44-fc-v657 (kvm_pvm): the table KVM_GET_CPUID2
/// returned right after KVM_SET_CPUID2 of KVM_GET_SUPPORTED_CPUID (live-kvm-supported-cpuid.txt), and the host
/// values the observations list (host CPUID.1:ECX, the 0xD.i layout of S3, supported XCR0 0x2E7, no XSS).
/// </summary>
internal static class RecordedLiveKernel
{
    public const string Release = "6.18.44-fc-v657";

    /// <summary>IA32_MISC_ENABLE after vCPU creation on that kernel (PVM; upstream RESET is 0x1800).</summary>
    public const ulong MiscEnableAtCreation = 0x1;

    public static readonly CpuidTable StartTable = CpuidTable.Of(
        new CpuidEntry[]
        {
        new(0x00000000, 0x00, (CpuidFlags)0, 0x00000020, 0x756E6547, 0x6C65746E, 0x49656E69),
        new(0x00000001, 0x00, (CpuidFlags)0, 0x000C06F2, 0x00020800, 0xF7F83203, 0x1F8BFBFF),
        new(0x00000002, 0x00, (CpuidFlags)0, 0x00FEFF01, 0x000000F0, 0x00000000, 0x00000000),
        new(0x00000003, 0x00, (CpuidFlags)0, 0x00000000, 0x00000000, 0x00000000, 0x00000000),
        new(0x00000004, 0x00, (CpuidFlags)1, 0x04000121, 0x02C0003F, 0x0000003F, 0x00000000),
        new(0x00000004, 0x01, (CpuidFlags)1, 0x04000122, 0x01C0003F, 0x0000003F, 0x00000000),
        new(0x00000004, 0x02, (CpuidFlags)1, 0x04000143, 0x03C0003F, 0x000007FF, 0x00000000),
        new(0x00000004, 0x03, (CpuidFlags)1, 0x04004163, 0x04C0003F, 0x0003BFFF, 0x00000004),
        new(0x00000004, 0x04, (CpuidFlags)1, 0x00000000, 0x00000000, 0x00000000, 0x00000000),
        new(0x00000005, 0x00, (CpuidFlags)0, 0x00000000, 0x00000000, 0x00000000, 0x00000000),
        new(0x00000006, 0x00, (CpuidFlags)0, 0x00000004, 0x00000000, 0x00000000, 0x00000000),
        new(0x00000007, 0x00, (CpuidFlags)1, 0x00000002, 0xF1BF23EB, 0x1A005F46, 0xBC814410),
        new(0x00000007, 0x01, (CpuidFlags)1, 0x00001C30, 0x00000000, 0x00000000, 0x00000000),
        new(0x00000007, 0x02, (CpuidFlags)1, 0x00000000, 0x00000000, 0x00000000, 0x0000001F),
        new(0x00000008, 0x00, (CpuidFlags)0, 0x00000000, 0x00000000, 0x00000000, 0x00000000),
        new(0x00000009, 0x00, (CpuidFlags)0, 0x00000000, 0x00000000, 0x00000000, 0x00000000),
        new(0x0000000A, 0x00, (CpuidFlags)0, 0x00000000, 0x00000000, 0x00000000, 0x00000000),
        new(0x0000000B, 0x00, (CpuidFlags)1, 0x00000000, 0x00000000, 0x00000000, 0x00000000),
        new(0x0000000C, 0x00, (CpuidFlags)0, 0x00000000, 0x00000000, 0x00000000, 0x00000000),
        new(0x0000000D, 0x00, (CpuidFlags)1, 0x000002E7, 0x00000240, 0x00000A88, 0x00000000),
        new(0x0000000D, 0x01, (CpuidFlags)1, 0x00000007, 0x00000240, 0x00000000, 0x00000000),
        new(0x0000000D, 0x02, (CpuidFlags)1, 0x00000100, 0x00000240, 0x00000000, 0x00000000),
        new(0x0000000D, 0x05, (CpuidFlags)1, 0x00000040, 0x00000440, 0x00000000, 0x00000000),
        new(0x0000000D, 0x06, (CpuidFlags)1, 0x00000200, 0x00000480, 0x00000000, 0x00000000),
        new(0x0000000D, 0x07, (CpuidFlags)1, 0x00000400, 0x00000680, 0x00000000, 0x00000000),
        new(0x0000000D, 0x09, (CpuidFlags)1, 0x00000008, 0x00000A80, 0x00000000, 0x00000000),
        new(0x0000000E, 0x00, (CpuidFlags)0, 0x00000000, 0x00000000, 0x00000000, 0x00000000),
        new(0x0000000F, 0x00, (CpuidFlags)1, 0x00000000, 0x00000000, 0x00000000, 0x00000000),
        new(0x00000010, 0x00, (CpuidFlags)1, 0x00000000, 0x00000000, 0x00000000, 0x00000000),
        new(0x00000011, 0x00, (CpuidFlags)0, 0x00000000, 0x00000000, 0x00000000, 0x00000000),
        new(0x00000012, 0x00, (CpuidFlags)1, 0x00000000, 0x00000000, 0x00000000, 0x00000000),
        new(0x00000013, 0x00, (CpuidFlags)0, 0x00000000, 0x00000000, 0x00000000, 0x00000000),
        new(0x00000014, 0x00, (CpuidFlags)1, 0x00000000, 0x00000000, 0x00000000, 0x00000000),
        new(0x00000015, 0x00, (CpuidFlags)0, 0x00000000, 0x00000000, 0x00000000, 0x00000000),
        new(0x00000016, 0x00, (CpuidFlags)0, 0x00000000, 0x00000000, 0x00000000, 0x00000000),
        new(0x00000017, 0x00, (CpuidFlags)1, 0x00000000, 0x00000000, 0x00000000, 0x00000000),
        new(0x00000018, 0x00, (CpuidFlags)1, 0x00000000, 0x00000000, 0x00000000, 0x00000000),
        new(0x00000019, 0x00, (CpuidFlags)0, 0x00000000, 0x00000000, 0x00000000, 0x00000000),
        new(0x0000001A, 0x00, (CpuidFlags)0, 0x00000000, 0x00000000, 0x00000000, 0x00000000),
        new(0x0000001B, 0x00, (CpuidFlags)0, 0x00000000, 0x00000000, 0x00000000, 0x00000000),
        new(0x0000001C, 0x00, (CpuidFlags)0, 0x00000000, 0x00000000, 0x00000000, 0x00000000),
        new(0x0000001F, 0x00, (CpuidFlags)1, 0x00000000, 0x00000000, 0x00000000, 0x00000000),
        new(0x00000020, 0x00, (CpuidFlags)0, 0x00000000, 0x00000000, 0x00000000, 0x00000000),
        new(0x80000000, 0x00, (CpuidFlags)0, 0x80000008, 0x00000000, 0x00000000, 0x00000000),
        new(0x80000001, 0x00, (CpuidFlags)0, 0x00000000, 0x00000000, 0x00000101, 0x20100800),
        new(0x80000002, 0x00, (CpuidFlags)0, 0x00000000, 0x00000000, 0x00000000, 0x00000000),
        new(0x80000003, 0x00, (CpuidFlags)0, 0x00000000, 0x00000000, 0x00000000, 0x00000000),
        new(0x80000004, 0x00, (CpuidFlags)0, 0x00000000, 0x00000000, 0x00000000, 0x00000000),
        new(0x80000005, 0x00, (CpuidFlags)0, 0x00000000, 0x00000000, 0x00000000, 0x00000000),
        new(0x80000006, 0x00, (CpuidFlags)0, 0x00000000, 0x00000000, 0x08007040, 0x00000000),
        new(0x80000007, 0x00, (CpuidFlags)0, 0x00000000, 0x00000000, 0x00000000, 0x00000100),
        new(0x80000008, 0x00, (CpuidFlags)0, 0x0000392E, 0x0100D200, 0x00000000, 0x00000000),
        new(0x40000000, 0x00, (CpuidFlags)0, 0x40000001, 0x4B4D564B, 0x564B4D56, 0x0000004D),
        new(0x40000001, 0x00, (CpuidFlags)0, 0x01007EFB, 0x00000000, 0x00000000, 0x00000000),        }
    );

    /// <summary>The host: its CPUID.1 (ECX from the observations; only XSAVE matters) and 0xD layout, KVM's supported 0xD.0/0xD.1.</summary>
    public static readonly HostCpu Host = LiveKernelHost.Build(
        "recorded " + Release,
        CpuidTable.Of(
            StartTable[0],
            CpuidEntry.Indexed(0xD, 0, 0x2E7, 0xA88, 0xA88, 0),
            CpuidEntry.Indexed(0xD, 1, 0, 0, 0, 0)
        ),
        (leaf, sub) => (leaf, sub) switch
        {
            (1, _) => new CpuidEntry(1, 0, CpuidFlags.None, 0xC06F2, 0x00020800, 0xFFFA3203, 0x1F8BFBFF),
            (0xD, 2) => new CpuidEntry(0xD, 2, CpuidFlags.None, 0x100, 0x240, 0, 0),
            (0xD, 5) => new CpuidEntry(0xD, 5, CpuidFlags.None, 0x40, 0x440, 0, 0),
            (0xD, 6) => new CpuidEntry(0xD, 6, CpuidFlags.None, 0x200, 0x480, 0, 0),
            (0xD, 7) => new CpuidEntry(0xD, 7, CpuidFlags.None, 0x400, 0x680, 0, 0),
            (0xD, 9) => new CpuidEntry(0xD, 9, CpuidFlags.None, 0x8, 0xA80, 0, 0),
            (0xD, 17) => new CpuidEntry(0xD, 17, CpuidFlags.None, 0x40, 0xAC0, 2, 0),
            (0xD, 18) => new CpuidEntry(0xD, 18, CpuidFlags.None, 0x2000, 0xB00, 6, 0),
            _ => new CpuidEntry(leaf, sub, CpuidFlags.None, 0, 0, 0, 0),
        }
    );

    /// <summary>The model's start: the recorded table installed, MISC_ENABLE as the kernel reported it.</summary>
    public static KvmState Start(Policy policy, KvmQuirks disabled = KvmQuirks.None)
    {
        var s = KvmState.WithCpuid(new Vm(Host, KernelProfile.Linux6_18, disabled), policy, StartTable);
        return s with { Vcpu = s.Vcpu with { Rare = s.Vcpu.Rare with { MiscEnable = MiscEnableAtCreation } } };
    }
}
