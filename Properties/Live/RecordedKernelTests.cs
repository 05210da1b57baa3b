using CpuidFunctional.Oracle;
using E = CpuidFunctional.Core.State.VcpuEvent;

namespace CpuidFunctional.Properties.Live;

/// <summary>
/// The model (6.18, Lazy and Eager) against the kernel values recorded in shared/kvm/live-kvm-observations.md on
/// 6.18.44-fc-v657, from the recorded start table. These run everywhere and keep the live evidence checked when
/// /dev/kvm is absent; the live tests re-measure the same scenarios where it is present.
/// </summary>
public class RecordedKernelTests
{
    private static readonly Policy[] Policies = [Policy.Lazy, Policy.Eager];

    private static Observation?[] Run(Policy policy, KvmQuirks quirks, params E[] events) =>
        Kvm.Run(policy, RecordedLiveKernel.Start(policy, quirks), events).Observations;

    /// <summary>
    /// KVM_GET_SUPPORTED_CPUID offers IA32_ARCH_CAPABILITIES (7.0:EDX[29]) on every Intel host, since KVM emulates the MSR;
    /// the live host takes the bit from the host's own CPUID instead, because it says whether the host has
    /// IA32_TSX_CTRL (Kvm.HasTsxCtrl). The rest of leaf 7 stays KVM's.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void The_live_host_takes_IA32_ARCH_CAPABILITIES_from_the_hosts_own_CPUID(bool hostHasIt)
    {
        var supported = CpuidTable.Of(
            CpuidEntry.Plain(0, 0xD, Vendor.Intel.Ebx, Vendor.Intel.Ecx, Vendor.Intel.Edx),
            CpuidEntry.Indexed(7, 0, 0, 1u << 11, 0, (1u << 29) | (1u << 4)),
            CpuidEntry.Indexed(0xD, 0, 0x7, 0x240, 0x240, 0)
        );
        var hostLeaf7Edx = hostHasIt ? 1u << 29 : 0;

        var host = LiveKernelHost.Build("t", supported, (leaf, sub) => new CpuidEntry(leaf, sub, CpuidFlags.None, 0, 0, 0, leaf == 7 ? hostLeaf7Edx : 0));

        Assert.Equal(hostHasIt, host.HasArchCapabilities);
        Assert.Equal(hostHasIt, Kvm.HasTsxCtrl(host));
        Assert.Equal((1u << 4) | hostLeaf7Edx, host.Cpuid.Find(7, 0)!.Value.Edx);
    }

    [Fact]
    public void Recorded_start_table_is_what_the_model_materializes_for_the_reset_state()
    {
        foreach (var policy in Policies)
        {
            var o = Run(policy, KvmQuirks.None, new E.GetCpuid2(256));
            Assert.Equal(new Observation.Cpuid2(RecordedLiveKernel.StartTable), o[0]);
        }
    }

    // S3: guest XSETBV value, #GP?, then CPUID(0xD,0).EBX and CPUID(0xD,1).EBX as the kernel answered.
    [Theory]
    [InlineData(0x1ul, false, 0x240u, 0x240u)]
    [InlineData(0x3ul, false, 0x240u, 0x240u)]
    [InlineData(0x7ul, false, 0x340u, 0x340u)]
    [InlineData(0xE7ul, false, 0xA80u, 0x980u)]
    [InlineData(0x2E7ul, false, 0xA88u, 0x988u)]
    [InlineData(0x207ul, false, 0xA88u, 0x348u)]
    [InlineData(0x203ul, false, 0xA88u, 0x248u)]
    [InlineData(0x201ul, false, 0xA88u, 0x248u)]
    [InlineData(0x5ul, true, 0x340u, 0x340u)]
    [InlineData(0xE3ul, true, 0x340u, 0x340u)]
    public void Guest_XSETBV_gives_the_recorded_sizes(ulong xcr0, bool gp, uint d0Ebx, uint d1Ebx)
    {
        foreach (var policy in Policies)
        {
            // S3 reached 0x5 and 0xE3 from XCR0 = 7 and 0x201; starting every row from 7 keeps rows independent.
            var o = Run(policy, KvmQuirks.None, new E.Run(), new E.MovToCr4(Cr4.OsXsave), new E.Xsetbv(0, 7), new E.Xsetbv(0, xcr0), new E.Cpuid(0xD, 0), new E.Cpuid(0xD, 1));
            Assert.Equal(gp ? new Observation.Fault(X86Exception.GP) : null, o[3]);
            Assert.Equal(new Observation.CpuidResult(0xD, 0, 0x2E7, d0Ebx, 0xA88, 0), o[4]);
            Assert.Equal(new Observation.CpuidResult(0xD, 1, 0x7, d1Ebx, 0, 0), o[5]);
        }
    }

    // S3: KVM_SET_XCRS value, result, then the sizes KVM_GET_CPUID2 showed (starting from XCR0 = 7).
    [Theory]
    [InlineData(0xE7ul, true, 0xA80u, 0x980u)]
    [InlineData(0x2E7ul, true, 0xA88u, 0x988u)]
    [InlineData(0x27ul, false, 0x340u, 0x340u)]
    [InlineData(0x0ul, false, 0x340u, 0x340u)]
    [InlineData(0x8000_0000_0000_0007ul, false, 0x340u, 0x340u)]
    [InlineData(0x3ul, true, 0x240u, 0x240u)]
    public void KVM_SET_XCRS_gives_the_recorded_result_and_sizes(ulong xcr0, bool ok, uint d0Ebx, uint d1Ebx)
    {
        foreach (var policy in Policies)
        {
            var o = Run(policy, KvmQuirks.None, new E.SetXcrs(7), new E.SetXcrs(xcr0), new E.GetCpuid2(256));
            Assert.Equal(ok ? new Observation.IoctlDone(0) : new Observation.IoctlError(Errno.EINVAL), o[1]);
            var table = Assert.IsType<Observation.Cpuid2>(o[2]).Table;
            Assert.Equal(d0Ebx, table.Find(0xD, 0)!.Value.Ebx);
            Assert.Equal(d1Ebx, table.Find(0xD, 1)!.Value.Ebx);
        }
    }

    [Fact]
    public void Guest_APIC_base_writes_follow_the_recorded_S5_table()
    {
        (ulong Value, bool Gp, ulong After, bool Apic)[] rows =
        [
            (0xFEE00100, false, 0xFEE00100, false),
            (0xFEE00900, false, 0xFEE00900, true),
            (0xFEE00500, true, 0xFEE00900, true),
            (0xFEE00D00, false, 0xFEE00D00, true),
            (0xFEE00900, true, 0xFEE00D00, true),
            (0xFEE00500, true, 0xFEE00D00, true),
            (0xFEE00100, false, 0xFEE00100, false),
            (0xFEE00D00, true, 0xFEE00100, false),
            (0xFEE00500, true, 0xFEE00100, false),
            (0xFEE00901, true, 0xFEE00100, false),
            (0xFEE00900, false, 0xFEE00900, true),
        ];
        foreach (var policy in Policies)
        {
            var events = new List<E> { new E.Run() };
            foreach (var r in rows)
            {
                events.AddRange([new E.Wrmsr(Msr.ApicBase, r.Value), new E.Rdmsr(Msr.ApicBase), new E.Cpuid(1, 0)]);
            }
            var o = Kvm.Run(policy, RecordedLiveKernel.Start(policy), events).Observations;
            for (var i = 0; i < rows.Length; i++)
            {
                var r = rows[i];
                Assert.Equal(r.Gp ? new Observation.Fault(X86Exception.GP) : null, o[1 + (3 * i)]);
                Assert.Equal(new Observation.MsrValue(Msr.ApicBase, r.After), o[2 + (3 * i)]);
                var leaf1 = Assert.IsType<Observation.CpuidResult>(o[3 + (3 * i)]);
                Assert.Equal(r.Apic, (leaf1.Edx & (1u << 9)) != 0);
            }
        }
    }

    [Theory]
    [InlineData(0, false)]
    [InlineData(1, false)]
    [InlineData(53, false)]
    [InlineData(54, true)]
    [InlineData(55, true)]
    [InlineData(256, true)]
    public void KVM_GET_CPUID2_nent_handling_is_the_recorded_S9_one(int nent, bool ok)
    {
        foreach (var policy in Policies)
        {
            var o = Run(policy, KvmQuirks.None, new E.GetCpuid2(nent));
            Assert.Equal(ok, o[0] is Observation.Cpuid2);
            Assert.Equal(!ok, Equals(o[0], new Observation.IoctlError(Errno.E2BIG)));
        }
    }

    /// <summary>
    /// S7 row 1 (Modelling note 5): MWAIT=1 from userspace, CR4 trigger, quirk disabled, CPUID. The kernel answered
    /// MWAIT=0: Lazy agrees; Eager keeps 1. This is the documented lazy/eager divergence, not a model bug.
    /// </summary>
    [Fact]
    public void Quirk_disabled_while_an_update_is_pending_matches_the_recorded_lazy_answer()
    {
        var table = RecordedLiveKernel.StartTable;
        var i = table.IndexOfFunction(1);
        var withMwait = table.SetItem(i, table[i].WithBit(CpuidRegister.Ecx, 3, true));
        E[] events =
        [
            new E.SetCpuid2(withMwait),
            new E.Run(),
            new E.Cpuid(1, 0),
            new E.MovToCr4(Cr4.OsXsave),
            new E.Wrmsr(Msr.MiscEnable, RecordedLiveKernel.MiscEnableAtCreation),
            new E.DisableQuirks2((ulong)KvmQuirks.MiscEnableNoMwait),
            new E.Cpuid(1, 0),
        ];
        bool Mwait(Observation? o) => (Assert.IsType<Observation.CpuidResult>(o).Ecx & 8) != 0;
        Assert.False(Mwait(Run(Policy.Lazy, KvmQuirks.None, events)[6]));
        Assert.True(Mwait(Run(Policy.Eager, KvmQuirks.None, events)[6]));
    }

    // S6 rows that match the spec: quirk state, CPUID.1 MWAIT from userspace, MISC_ENABLE[18] written, MWAIT seen.
    [Theory]
    [InlineData(false, false, false, false)]
    [InlineData(false, false, true, false)]
    [InlineData(false, true, false, true)]
    [InlineData(false, true, true, true)]
    [InlineData(true, false, false, false)]
    [InlineData(true, true, false, false)]
    public void MWAIT_quirk_matrix_matches_the_recorded_S6_rows(bool quirkDisabled, bool cpuidMwait, bool miscMwait, bool seen) =>
        Assert.All(Policies, policy => Assert.Equal(seen, S6(policy, quirkDisabled, cpuidMwait, miscMwait)));

    /// <summary>
    /// S6 rows where this PVM kernel differs from upstream common code (vendor behaviour; docs/live-kernel.md):
    /// quirk disabled and MISC_ENABLE[18] = 1, the kernel answered MWAIT=0; the model follows kvm_update_cpuid_runtime
    /// and answers 1. Kept as a pinned difference so a change on either side is noticed.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void MWAIT_rows_where_the_recorded_PVM_kernel_differs_from_common_code(bool cpuidMwait)
    {
        const bool recordedKernel = false;
        Assert.All(Policies, policy => Assert.NotEqual(recordedKernel, S6(policy, quirkDisabled: true, cpuidMwait, miscMwait: true)));
    }

    private static bool S6(Policy policy, bool quirkDisabled, bool cpuidMwait, bool miscMwait)
    {
        var quirks = quirkDisabled ? KvmQuirks.MiscEnableNoMwait : KvmQuirks.None;
        var table = RecordedLiveKernel.StartTable;
        var i = table.IndexOfFunction(1);
        var start = KvmState.WithCpuid(new Vm(RecordedLiveKernel.Host, KernelProfile.Linux6_18, quirks), policy, table.SetItem(i, table[i].WithBit(CpuidRegister.Ecx, 3, cpuidMwait)));
        start = start with { Vcpu = start.Vcpu with { Rare = start.Vcpu.Rare with { MiscEnable = RecordedLiveKernel.MiscEnableAtCreation } } };
        var misc = RecordedLiveKernel.MiscEnableAtCreation | (miscMwait ? Msr.MiscEnableMwait : 0);
        var o = Kvm.Run(policy, start, [new E.Run(), new E.Wrmsr(Msr.MiscEnable, misc), new E.Cpuid(1, 0)]).Observations;
        Assert.Null(o[1]);
        return (Assert.IsType<Observation.CpuidResult>(o[2]).Ecx & 8) != 0;
    }
}
