using CpuidFunctional.Core.Cpuid;
using CpuidFunctional.Core.Host;
using CpuidFunctional.Core.Model;
using CpuidFunctional.Core.State;

namespace CpuidFunctional.Properties.Core;

/// <summary>Small hosts and guests for the Core unit tests, taken from the Skylake-SP 8160 dump in shared/data.</summary>
internal static class TestHosts
{
    /// <summary>Skylake-SP leaves that matter here (values from the InstLatx64 dump of a Xeon Platinum 8160).</summary>
    public static readonly CpuidTable SkylakeCpuid = CpuidTable.Of(
        CpuidEntry.Plain(0x0, 0x16, 0x756E6547, 0x6C65746E, 0x49656E69),
        CpuidEntry.Plain(0x1, 0x00050654, 0x00400800, 0x7FFEFBFF, 0xBFEBFBFF),
        CpuidEntry.Indexed(0x7, 0, 0x0, 0xD39FFFFB, 0x00000008, 0x9C002400),
        CpuidEntry.Indexed(0xB, 0, 0x1, 0x2, 0x100, 0x0),
        CpuidEntry.Indexed(0xB, 1, 0x6, 0x30, 0x201, 0x0),
        CpuidEntry.Indexed(0xD, 0, 0x2FF, 0xA80, 0xA88, 0x0),
        CpuidEntry.Indexed(0xD, 1, 0xF, 0xA80, 0x100, 0x0),
        CpuidEntry.Indexed(0xD, 2, 0x100, 0x240, 0x0, 0x0),
        CpuidEntry.Indexed(0xD, 3, 0x40, 0x3C0, 0x0, 0x0),
        CpuidEntry.Indexed(0xD, 4, 0x40, 0x400, 0x0, 0x0),
        CpuidEntry.Indexed(0xD, 5, 0x40, 0x440, 0x0, 0x0),
        CpuidEntry.Indexed(0xD, 6, 0x200, 0x480, 0x0, 0x0),
        CpuidEntry.Indexed(0xD, 7, 0x400, 0x680, 0x0, 0x0),
        CpuidEntry.Indexed(0xD, 8, 0x80, 0x0, 0x1, 0x0),
        CpuidEntry.Indexed(0xD, 9, 0x8, 0xA80, 0x0, 0x0),
        CpuidEntry.Plain(0x80000000, 0x80000008, 0, 0, 0),
        CpuidEntry.Plain(0x80000008, 0x0000302E, 0, 0, 0)
    );

    public static readonly HostCpu Skylake = HostCpu.FromCpuid("test-skylake-sp", SkylakeCpuid);

    /// <summary>
    /// The guest table a VMM would pass: the host's leaves with OSXSAVE cleared (KVM owns it) and the extra bits of
    /// 0x8000_0008 kept; PKU added so OSPKE and CR4.PKE can be exercised.
    /// </summary>
    public static readonly CpuidTable SkylakeGuest = CpuidTable.Of(
        SkylakeCpuid.Entries.Select(e => e.Function switch
        {
            1 => e.WithBit(CpuidRegister.Ecx, 27, false).WithBit(CpuidRegister.Ecx, 5, true),
            7 => e.WithBit(CpuidRegister.Ecx, 3, true),
            _ => e,
        })
    );

    public static Vm Vm(KernelProfile profile = KernelProfile.Linux6_18) => new(Skylake, profile);

    /// <summary>A vCPU with the Skylake guest table installed (not yet run).</summary>
    public static KvmState Fresh(Policy policy, KernelProfile profile = KernelProfile.Linux6_18) =>
        KvmState.WithCpuid(Vm(profile), policy, SkylakeGuest);

    /// <summary>A vCPU that has run, CR4.OSXSAVE set and XCR0 = x87|SSE|AVX.</summary>
    public static KvmState Running(Policy policy, KernelProfile profile = KernelProfile.Linux6_18)
    {
        var s = Fresh(policy, profile);
        s = Kvm.Step(policy, s, new VcpuEvent.Run()).State;
        s = Kvm.Step(policy, s, new VcpuEvent.MovToCr4(Cr4.OsXsave)).State;
        s = Kvm.Step(policy, s, new VcpuEvent.Xsetbv(0, 0x7)).State;
        return Kvm.Step(policy, s, new VcpuEvent.Cpuid(0, 0)).State;
    }

    /// <summary>Runs events under a policy from a state; returns the final state and every step's observation.</summary>
    public static (KvmState State, Observation?[] Observations) Run(Policy policy, KvmState start, params VcpuEvent[] events)
    {
        var (state, observations, _) = Kvm.Run(policy, start, events);
        return (state, observations);
    }

    /// <summary>CPUID under a policy, returning the answer's registers.</summary>
    public static Observation.CpuidResult Cpuid(Policy policy, ref KvmState state, uint leaf, uint subleaf = 0)
    {
        var t = Kvm.Step(policy, state, new VcpuEvent.Cpuid(leaf, subleaf));
        state = t.State;
        return Assert.IsType<Observation.CpuidResult>(t.Observation);
    }

    public static bool Bit(uint value, int bit) => ((value >> bit) & 1) != 0;
}
