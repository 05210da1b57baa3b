namespace CpuidFunctional.Properties.Core;

/// <summary>The host and guest tables the Core unit tests start from: the Skylake-SP preset and a guest derived from it.</summary>
internal static class TestHosts
{
    /// <summary>The built-in Skylake-SP preset (InstLatx64 dump of a Xeon Platinum 8160).</summary>
    public static readonly CpuidTable SkylakeCpuid = HostPresets.SkylakeSp.Cpuid;

    public static readonly HostCpu Skylake = HostPresets.SkylakeSp;

    /// <summary>A table without XSAVES in 0xD.1:EAX, so IA32_XSS is not the guest's MSR.</summary>
    public static CpuidTable WithoutXsaves(CpuidTable table) =>
        CpuidTable.Of(table.Entries.Select(e => e is { Function: 0xD, Index: 1 } ? e with { Eax = e.Eax & ~CpuidFunctional.Core.Dynamic.DynamicBits.XsavesBit } : e));

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

    /// <summary>
    /// The built-in Sapphire Rapids preset: it has the CET components, the only IA32_XSS bits KVM supports (6.18;
    /// none before), which Skylake-SP lacks.
    /// </summary>
    public static readonly HostCpu Cet = HostPresets.SapphireRapids;

    /// <summary>The Sapphire Rapids guest table: the host's leaves with OSXSAVE cleared (KVM owns it).</summary>
    public static readonly CpuidTable CetGuest = CpuidTable.Of(
        Cet.Cpuid.Entries.Select(e => e.Function == 1 ? e.WithBit(CpuidRegister.Ecx, 27, false) : e)
    );

    /// <summary>Like <see cref="Running"/>, on the CET host with its guest table.</summary>
    public static KvmState RunningWithCet(Policy policy, KernelProfile profile = KernelProfile.Linux6_18)
    {
        var s = KvmState.WithCpuid(new Vm(Cet, profile), policy, CetGuest);
        s = Kvm.Step(policy, s, new VcpuEvent.Run()).State;
        s = Kvm.Step(policy, s, new VcpuEvent.MovToCr4(Cr4.OsXsave)).State;
        s = Kvm.Step(policy, s, new VcpuEvent.Xsetbv(0, 0x7)).State;
        return Kvm.Step(policy, s, new VcpuEvent.Cpuid(0, 0)).State;
    }

    /// <summary>What IA32_XSS's CET user component adds to a compacted XSAVE area on the CET host (no alignment).</summary>
    public static uint CetUserCompactedBytes => Cet.Xsave[11].Size;

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
