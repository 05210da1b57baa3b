using CpuidFunctional.Oracle;
using E = CpuidFunctional.Core.State.VcpuEvent;
using static CpuidFunctional.Properties.Live.LiveInputs;

namespace CpuidFunctional.Properties.Live;

/// <summary>
/// The scenarios of shared/kvm/live-kvm-observations.md, run on this machine's KVM (or the TCG guest's) and on the
/// model (that kernel's profile, Lazy and Eager) from the same start, compared field by field at every step. Skipped where /dev/kvm is unusable.
/// </summary>
public class LiveScenarioTests
{
    private const ulong OsXsave = Cr4.OsXsave;
    private const ulong ApicXapic = 0xFEE0_0900;

    [Fact]
    public void Cr4_osxsave_set_through_KVM_SET_SREGS_is_seen_by_GET_CPUID2_and_guest_CPUID()
    {
        AssertAgrees(
            Scenario(
                new E.SetSregs(OsXsave, ApicXapic),
                new E.GetCpuid2(256),
                new E.Run(),
                new E.Cpuid(1, 0),
                new E.SetSregs(0, ApicXapic),
                new E.GetCpuid2(256),
                new E.Cpuid(1, 0),
                new E.SetSregs(OsXsave, ApicXapic),
                new E.Cpuid(1, 0),
                new E.SetSregs(0, ApicXapic),
                new E.Cpuid(1, 0),
                new E.SetSregs(OsXsave, ApicXapic),
                new E.SetSregs(0, ApicXapic),
                new E.GetCpuid2(256)
            )
        );
    }

    [Fact]
    public void Guest_MOV_CR4_toggles_before_one_observation_show_only_the_last_value()
    {
        AssertAgrees(
            Scenario(
                new E.Run(),
                new E.Cpuid(1, 0),
                new E.MovToCr4(OsXsave),
                new E.MovToCr4(0),
                new E.MovToCr4(OsXsave),
                new E.MovToCr4(0),
                new E.Cpuid(1, 0),
                new E.MovToCr4(OsXsave),
                new E.MovToCr4(0),
                new E.MovToCr4(OsXsave),
                new E.Cpuid(1, 0),
                new E.Xsetbv(0, 7),
                new E.Xsetbv(0, 3),
                new E.Cpuid(0xD, 0),
                new E.Xsetbv(0, 7),
                new E.Cpuid(0xD, 0),
                new E.MovToCr4(0),
                new E.Cpuid(1, 0),
                new E.GetCpuid2(256)
            )
        );
    }

    [Fact]
    public void Xsave_sizes_follow_XCR0_through_guest_XSETBV_and_KVM_SET_XCRS()
    {
        var events = new List<E> { new E.Run(), new E.MovToCr4(OsXsave), new E.Cpuid(0xD, 0), new E.Cpuid(0xD, 1) };
        foreach (var xcr0 in new ulong[] { 0x1, 0x3, 0x7, 0x5, 0xE7, 0x2E7, 0x207, 0x203, 0x201, 0xE3, 0x3, 0x1 })
        {
            events.AddRange([new E.Xsetbv(0, xcr0), new E.Cpuid(0xD, 0), new E.Cpuid(0xD, 1)]);
        }
        foreach (var xcr0 in new ulong[] { 0xE7, 0x2E7, 0x7, 0x27, 0x0, (1ul << 63) | 7, 0x3 })
        {
            events.AddRange([new E.SetXcrs(xcr0), new E.GetCpuid2(256)]);
        }
        events.AddRange([new E.SetXcrs(0x2E7), new E.Cpuid(0xD, 0), new E.Cpuid(0xD, 1)]);
        AssertAgrees(Scenario([.. events]));
    }

    [Fact]
    public void KVM_SET_XCRS_sets_only_the_first_XCR0_entry_and_refuses_more_than_16_entries_or_any_flags()
    {
        static E Xcrs(uint flags, params (uint Xcr, ulong Value)[] entries) =>
            new E.SetXcrs(new ValueArray<XcrEntry>([.. entries.Select(e => new XcrEntry(e.Xcr, e.Value))])) { Flags = flags };
        var sixteen = Enumerable.Range(0, 16).Select(n => (1u, 1ul)).ToArray();
        var events = new List<E>
        {
            new E.Run(),
            new E.MovToCr4(OsXsave),
            Xcrs(0, (1, 1), (0, 7), (0, 3)), // XCR1 ignored, the first XCR0 set, the second ignored
            new E.GetXcrs(),
            new E.Cpuid(0xD, 0),
            Xcrs(0, (1, 1)), // no XCR0 entry: 0, nothing set
            Xcrs(0), // nr_xcrs = 0
            new E.GetXcrs(),
            Xcrs(0, (0, 2), (0, 7)), // the first XCR0 is refused (no x87): EINVAL, the second is never tried
            new E.GetXcrs(),
            Xcrs(0, [.. sixteen, (0, 3)]), // 17 entries
            Xcrs(0, [.. sixteen[..15], (0, 3)]), // 16: the last is XCR0
            new E.GetXcrs(),
            new E.Cpuid(0xD, 0),
            Xcrs(1, (0, 7)),
            Xcrs(0x8000_0000, (0, 7)),
            new E.GetXcrs(),
            Xcrs(0, (0x8000_0000, 3), (0, 7)), // XCR 0x80000000 is not XCR0: ignored
            new E.GetXcrs(),
            Xcrs(0, (0x8000_0000, 3)),
            new E.GetXcrs(),
            new E.GetCpuid2(256),
        };
        AssertAgrees(Scenario([.. events]));
    }

    /// <summary>
    /// kvm_pv_test's test_pv_unhalt, and 6.1's older rule: with HLT exits disabled before the vCPU, KVM clears
    /// KVM_FEATURE_PV_UNHALT from the KVM features leaf. 6.14 on: at every KVM_SET_CPUID2 whose table carries KVM's
    /// signature. 6.1: in the runtime update, at the base cached from the installed table, so the first table keeps
    /// it until a trigger, a table with the signature clobbered still loses it, the next one keeps it, and after
    /// KVM_RUN the same table is refused because the incoming copy is cleared and the installed one is not.
    /// </summary>
    [Fact]
    public void With_HLT_exits_disabled_KVM_clears_PV_UNHALT_where_and_when_the_kernels_profile_says()
    {
        using var kvm = LiveKernel.OpenOrSkip();
        SkipUnlessHltExitsMayBeDisabled(kvm);
        HostCpu host = LiveKernel.Host(kvm);
        var fences = KernelFences.ForThisKernel(kvm, host, LiveKernel.Supported(kvm));
        var created = LiveKvmTarget.Create(kvm, WithKvmLeaves(LiveKernel.Supported(kvm)), disabledExits: DisableExits.Hlt);
        using var target = Assert.IsType<IoctlResult<LiveKvmTarget>.Ok>(created).Value;
        // The tables set are the kernel's own read back (a vendor module may rewrite a table before the first run),
        // with PV_UNHALT set again.
        var table = WithKvmLeaves(target.StartTable);
        var events = new E[]
        {
            new E.GetCpuid2(256),
            new E.SetXcrs(0x7), // a trigger
            new E.GetCpuid2(256),
            new E.SetCpuid2(table),
            new E.GetCpuid2(256),
            new E.SetCpuid2(WithKvmLeaves(table, signed: false)),
            new E.GetCpuid2(256),
            new E.SetCpuid2(table),
            new E.GetCpuid2(256),
            new E.Run(),
            new E.Cpuid(0x4000_0001, 0),
            new E.SetCpuid2(table),
            new E.GetCpuid2(256),
        };
        AssertAgrees(LiveComparison.Run(target, host, fences.Fence(events)));
    }

    [Fact]
    public void Disabling_HLT_exits_once_the_vCPU_exists_is_EINVAL_from_6_14_while_6_1_takes_it_and_clears_PV_UNHALT_at_the_next_trigger()
    {
        using var kvm = LiveKernel.OpenOrSkip();
        SkipUnlessHltExitsMayBeDisabled(kvm);
        AssertAgrees(
            ScenarioOn(
                t => WithKvmLeaves(t),
                0,
                [new E.GetCpuid2(256), new E.DisableExits(DisableExits.Hlt), new E.GetCpuid2(256), new E.SetXcrs(0x7), new E.GetCpuid2(256), new E.DisableExits(1ul << 5)]
            )
        );
    }

    private static void SkipUnlessHltExitsMayBeDisabled(KvmSystem kvm)
    {
        if (kvm.CheckExtension(KvmCapability.X86DisableExits) is not IoctlResult<int>.Ok(var m) || (m & (int)DisableExits.Hlt) == 0)
        {
            Assert.Skip($"KVM_CAP_X86_DISABLE_EXITS does not offer HLT on {KvmSystem.KernelRelease}");
        }
    }

    [Fact]
    public void XSETBV_refusals_are_GP_and_without_CR4_OSXSAVE_UD_and_leave_the_sizes_alone()
    {
        var events = new List<E> { new E.Run(), new E.MovToCr4(OsXsave), new E.Xsetbv(0, 7) };
        ulong[] refused =
        [
            0x0, 0x2, 0x4, 0x5, 0x6, 0xF, 0x17, 0x1F, 0x27, 0x67, 0xC7, 0xE3, 0x107, 0x20007, 0x40007, 0x60007, 0x80007,
            1ul << 32, 1ul << 63,
        ];
        foreach (var value in refused)
        {
            events.AddRange([new E.Xsetbv(0, value), new E.Cpuid(0xD, 0)]);
        }
        events.AddRange([new E.Xsetbv(1, 1), new E.Xsetbv(1, 3), new E.Xsetbv(0x8000_0000, 7), new E.Cpuid(0xD, 1)]);
        events.AddRange([new E.MovToCr4(0), new E.Cpuid(1, 0), new E.Xsetbv(0, 3), new E.Xsetbv(0, 0)]);
        events.AddRange([new E.MovToCr4(OsXsave), new E.Cpuid(0xD, 0), new E.GetCpuid2(256)]);
        AssertAgrees(Scenario([.. events]));
    }

    [Fact]
    public void APIC_enable_and_illegal_transitions_through_WRMSR_KVM_SET_SREGS_and_KVM_SET_MSRS()
    {
        var events = new List<E> { new E.Run(), new E.Rdmsr(Msr.ApicBase), new E.Cpuid(1, 0) };
        foreach (var value in new ulong[] { 0xFEE00100, 0xFEE00900, 0xFEE00500, 0xFEE00D00, 0xFEE00900, 0xFEE00500, 0xFEE00100, 0xFEE00D00, 0xFEE00500, 0xFEE00901, 0xFEE00900 })
        {
            events.AddRange([new E.Wrmsr(Msr.ApicBase, value), new E.Rdmsr(Msr.ApicBase), new E.Cpuid(1, 0)]);
        }
        foreach (var value in new ulong[] { 0xFEE00100, 0xFEE00500, 0xFEE00900, 0xFEE00D00, 0xFEE00900, 0xFEE00100 })
        {
            events.AddRange([new E.SetSregs(0, value), new E.GetCpuid2(256)]);
        }
        events.AddRange([new E.SetSregs(0, 0xFEE00900), new E.SetSregs(0, 0xFEE00100), new E.Cpuid(1, 0)]);
        events.AddRange([new E.SetMsrs(Msrs((Msr.ApicBase, 0xFEE00900))), new E.GetCpuid2(256)]);
        events.AddRange([new E.SetMsrs(Msrs((Msr.ApicBase, 0xFEE00500))), new E.GetCpuid2(256)]);
        AssertAgrees(Scenario([.. events]));
    }

    /// <summary>
    /// INIT (<c>kvm_vcpu_reset(vcpu, true)</c>), latched through the in-kernel APIC: CR4 becomes 0, a trigger, so
    /// OSXSAVE and OSPKE follow at the next observation, and EFER becomes 0, while XCR0, the APIC base and MISC_ENABLE
    /// stay as the VMM set them (a RESET would put them back): EFER.SCE, a fast-strings MISC_ENABLE and a disabled APIC
    /// (whose CPUID.1:EDX.APIC, a dynamic bit, must stay clear) go in before the first INIT. A second INIT, with the
    /// APIC enabled again and only OSXSAVE set, clears OSXSAVE again. CR4.PKE goes in only where the probes find the
    /// kernel's CR4 check to be KVM's (not on kvm_pvm, which accepts it without PKU in the guest's CPUID).
    /// </summary>
    [Fact]
    public void INIT_clears_CR4_and_EFER_so_OSXSAVE_and_OSPKE_follow_while_XCR0_the_APIC_base_and_MISC_ENABLE_stay()
    {
        using var kvm = LiveKernel.OpenOrSkip();
        HostCpu host = LiveKernel.Host(kvm);
        var fences = KernelFences.ForThisKernel(kvm, host, LiveKernel.Supported(kvm));
        using var target = CreateWithInKernelApic(kvm);
        ValueArray<uint> msrs = new([Msr.ApicBase, Msr.MiscEnable, Msr.Efer]);
        const ulong fastStrings = 1; // IA32_MISC_ENABLE[0]: no rule of KVM's reads it
        // PKE only where the kernel's CR4 check is KVM's: kvm_pvm accepts it without PKU in the guest's CPUID.
        var cr4 = Cr4.OsXsave | (fences.AgreedDynamicCr4 & Cr4.Pke);
        var events = new E[]
        {
            new E.Run(),
            new E.MovToCr4(cr4),
            new E.SetXcrs(Xcr0.Fp | Xcr0.Sse), // the ioctl: a guest XSETBV does not reach KVM under TCG
            new E.SetMsrs(Msrs((Msr.Efer, Efer.Sce), (Msr.MiscEnable, target.StartRegisters.MiscEnable | fastStrings), (Msr.ApicBase, Msr.ApicBaseBsp | 0xFEE0_0000))),
            new E.GetMsrs(msrs),
            new E.Cpuid(1, 0),
            new E.Cpuid(7, 0),
            new E.Init(),
            new E.GetCpuid2(256),
            new E.GetXcrs(),
            new E.GetMsrs(msrs),
            new E.Cpuid(1, 0),
            new E.Cpuid(0xD, 0),
            new E.SetMsrs(Msrs((Msr.ApicBase, Msr.ApicBaseDefault))),
            new E.MovToCr4(Cr4.OsXsave),
            new E.Cpuid(1, 0),
            new E.Init(),
            new E.Cpuid(1, 0),
            new E.Cpuid(7, 0),
            new E.GetMsrs(msrs),
            new E.GetCpuid2(256),
        };
        AssertAgrees(LiveComparison.Run(target, host, fences.Fence(events)));
    }

    /// <summary>
    /// An INIT that arrives in SMM stays latched (<c>kvm_apic_init_sipi_allowed</c>): in SMM CR4 stays as the SMM
    /// handler sets it. RSM restores CR4 and EFER from SMRAM and requests event processing (<c>kvm_smm_changed</c>),
    /// so before the guest runs again the INIT is taken: CR4 and EFER are 0 (OSXSAVE clear at the next CPUID, EFER.SCE,
    /// set before the SMI, gone), the CPL is 0 even if the SMI came at CPL3, and XCR0 stays.
    /// </summary>
    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    public void An_INIT_latched_in_SMM_is_taken_when_RSM_leaves_it(byte cpl)
    {
        using var kvm = LiveKernel.OpenOrSkip();
        SkipWithoutSmm(kvm);
        HostCpu host = LiveKernel.Host(kvm);
        var fences = KernelFences.ForThisKernel(kvm, host, LiveKernel.Supported(kvm));
        using var target = CreateWithInKernelApic(kvm);
        var events = new E[]
        {
            new E.Run(),
            new E.MovToCr4(Cr4.OsXsave),
            new E.SetXcrs(Xcr0.Fp | Xcr0.Sse),
            new E.SetMsrs(Msrs((Msr.Efer, Efer.Sce))),
            new E.SetCpl(cpl),
            new E.EnterSmm(),
            new E.Init(),
            new E.Cpuid(1, 0), // in SMM: CR4 0, the INIT still latched
            new E.MovToCr4(Cr4.OsXsave),
            new E.Cpuid(1, 0),
            new E.Rsm(), // RSM restores OSXSAVE, then the INIT clears it
            new E.Cpuid(1, 0),
            new E.GetCpuid2(256),
            new E.GetXcrs(),
            new E.GetMsrs(new([Msr.Efer])),
            new E.MovToCr4(Cr4.OsXsave), // CPL 0 now: a MOV CR4 works from the interpreter INIT restarted
            new E.Cpuid(1, 0),
            new E.Rsm(), // #UD: INIT left SMM
        };
        AssertAgrees(LiveComparison.Run(target, host, fences.Fence(events)));
    }

    [Theory]
    [InlineData(false, false, false)]
    [InlineData(false, false, true)]
    [InlineData(false, true, false)]
    [InlineData(false, true, true)]
    [InlineData(true, false, false)]
    [InlineData(true, true, false)]
    public void MWAIT_quirk_matrix_agrees(bool quirkDisabled, bool cpuidMwait, bool miscEnableMwait) =>
        AssertAgrees(MwaitCase(quirkDisabled, cpuidMwait, miscEnableMwait));

    /// <summary>
    /// With MISC_ENABLE_NO_MWAIT disabled, upstream <c>kvm_update_cpuid_runtime</c> copies IA32_MISC_ENABLE[18] into
    /// CPUID.1:ECX.MWAIT, and so does the model: an upstream vendor module must agree. The PVM module (whose host has
    /// no MWAIT) always reports 0 (observations S6/S6b): vendor behaviour, pinned here as the only difference.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void MWAIT_follows_MISC_ENABLE_bit_18_with_the_quirk_disabled_except_on_PVM_where_it_stays_clear(bool cpuidMwait)
    {
        var c = MwaitCase(quirkDisabled: true, cpuidMwait, miscEnableMwait: true);
        AssertRan(c);
        if (!LiveKernelIdentity.Current.IsPvm)
        {
            AssertAgrees(c);
            return;
        }
        var differing = c.Rows.Where(r => !r.Agrees).ToList();
        Assert.NotEmpty(differing);
        foreach (var row in differing)
        {
            Assert.True(MwaitOf(row.KernelObservation) == false && MwaitOf(row.Lazy) == true && MwaitOf(row.Eager) == true, c.Report());
            Assert.Equal(WithoutMwait(row.KernelObservation), WithoutMwait(row.Lazy));
            Assert.Equal(WithoutMwait(row.KernelObservation), WithoutMwait(row.Eager));
        }
    }

    /// <summary>
    /// Modelling note 5 on the live kernel (S7): CPUID.1 MWAIT=1 from userspace, a CR4 trigger, the quirk is
    /// disabled, then CPUID. A lazy kernel (6.15+) samples the quirk when it materializes (MWAIT=0 from
    /// MISC_ENABLE[18]=0), like Lazy; an eager one (6.1) updated at the trigger, with the quirk still in effect, and
    /// keeps 1, like Eager. The kernel must show its own era's result at every step.
    /// </summary>
    [Fact]
    public void Disabling_the_quirk_after_a_trigger_shows_the_result_of_the_kernels_update_era()
    {
        using var kvm = LiveKernel.OpenOrSkip();
        var host = LiveKernel.Host(kvm);
        var table = WithLeaf1Bit(LiveKernel.Supported(kvm), CpuidRegister.Ecx, 3, true);
        using var target = Create(kvm, table, 0);
        var misc = target.StartRegisters.MiscEnable & ~Msr.MiscEnableMwait;
        var c = LiveComparison.Run(
            target,
            host,
            [
                new E.Run(),
                new E.Cpuid(1, 0),
                new E.MovToCr4(OsXsave),
                new E.Wrmsr(Msr.MiscEnable, misc),
                new E.DisableQuirks2(QuirkNoMwait),
                new E.Cpuid(1, 0),
                new E.GetCpuid2(256),
            ]
        );
        AssertRan(c);
        var lazyEra = target.Kernel.Era == UpdateScheme.Lazy;
        Observation? Era(ObservationRow r) => lazyEra ? r.Lazy : r.Eager;
        var afterDisable = c.Rows[5];
        Assert.True(MwaitOf(afterDisable.KernelObservation) == !lazyEra, c.Report());
        Assert.True(MwaitOf(afterDisable.Lazy) == false && MwaitOf(afterDisable.Eager) == true, c.Report());
        Assert.All(c.Rows, r => Assert.True(Equals(LiveComparison.Normalize(r.KernelObservation), LiveComparison.Normalize(Era(r))), c.Report()));
    }

    [Fact]
    public void KVM_SET_CPUID2_after_KVM_RUN_compares_current_dynamic_bits_and_refuses_static_changes()
    {
        using var kvm = LiveKernel.OpenOrSkip();
        var host = LiveKernel.Host(kvm);
        using var target = Create(kvm, LiveKernel.Supported(kvm), 0);
        var t = target.StartTable;
        var events = new E[]
        {
            new E.Run(),
            new E.GetCpuid2(256),
            new E.SetCpuid2(t),
            new E.SetSregs(OsXsave, ApicXapic),
            new E.SetCpuid2(t), // stale OSXSAVE=0 while the update is pending
            new E.GetCpuid2(256),
            new E.Cpuid(1, 0),
            new E.SetSregs(0, ApicXapic),
            new E.SetCpuid2(WithLeaf1Bit(t, CpuidRegister.Ecx, 27, true)),
            new E.Cpuid(1, 0),
            new E.SetCpuid2(Edit(t, 7, 0, e => e with { Ebx = e.Ebx - 1 })),
            new E.SetCpuid2(Edit(t, 0x8000_0008, 0, e => e with { Eax = e.Eax - 1 })),
            new E.SetCpuid2(Edit(t, 0xD, 0, e => e with { Ebx = 0x1234 })),
            new E.SetCpuid2(WithLeaf1Bit(t, CpuidRegister.Ecx, 3, !t.Find(1, 0)!.Value.Has(CpuidRegister.Ecx, 3))),
            new E.SetCpuid2(LiveKernel.Supported(kvm)),
            new E.GetCpuid2(256),
        };
        AssertAgrees(LiveComparison.Run(target, host, events));
    }

    [Fact]
    public void KVM_GET_CPUID2_returns_E2BIG_for_a_short_buffer_before_materializing()
    {
        using var kvm = LiveKernel.OpenOrSkip();
        var host = LiveKernel.Host(kvm);
        using var target = Create(kvm, LiveKernel.Supported(kvm), 0);
        var n = target.StartTable.Count;
        AssertAgrees(
            LiveComparison.Run(
                target,
                host,
                [
                    new E.SetSregs(OsXsave, ApicXapic),
                    new E.GetCpuid2(0),
                    new E.GetCpuid2(1),
                    new E.GetCpuid2(n - 1),
                    new E.GetCpuid2(n),
                    new E.GetCpuid2(n + 1),
                    new E.GetCpuid2(256),
                ]
            )
        );
    }

    [Theory]
    [InlineData(0xDu)]
    [InlineData(7u)]
    [InlineData(1u)]
    public void Out_of_range_leaves_on_an_Intel_table_answer_the_max_basic_leaf_with_current_dynamic_bits(uint maxBasic)
    {
        var events = new List<E> { new E.Run(), new E.MovToCr4(OsXsave), new E.Xsetbv(0, 7) };
        events.AddRange(OutOfRangeQueries());
        events.AddRange([new E.MovToCr4(0), new E.Cpuid(2, 0), new E.Cpuid(0x8000_00FF, 1), new E.Cpuid(0x4000_0100, 0)]);
        AssertAgrees(ScenarioOn(supported => Truncate(supported, maxBasic, amd: false), 0, [.. events]));
    }

    [Fact]
    public void Out_of_range_leaves_on_an_AMD_vendor_table_answer_zeros()
    {
        var events = new List<E> { new E.Run(), new E.MovToCr4(OsXsave), new E.Cpuid(1, 0) };
        events.AddRange(OutOfRangeQueries());
        AssertAgrees(ScenarioOn(supported => Truncate(supported, 1, amd: true), 0, [.. events]));
    }

    [Fact]
    public void CPUID_faulting_gives_GP_at_CPL3_only_and_the_next_CPUID_is_current()
    {
        AssertAgrees(
            Scenario(
                new E.Run(),
                new E.Rdmsr(Msr.PlatformInfo),
                new E.Rdmsr(Msr.MiscFeaturesEnables),
                new E.Wrmsr(Msr.MiscFeaturesEnables, 1),
                new E.Cpuid(1, 0), // CPL0: no fault
                new E.Wrmsr(Msr.MiscFeaturesEnables, 0),
                new E.SetCpl(3),
                new E.Cpuid(1, 0), // CPL3, faulting off
                new E.SetMsrs(Msrs((Msr.MiscFeaturesEnables, 1))),
                new E.Cpuid(1, 0), // #GP
                new E.SetSregs(OsXsave, ApicXapic), // update pending
                new E.Cpuid(1, 0), // #GP, no materialization
                new E.SetMsrs(Msrs((Msr.MiscFeaturesEnables, 0))),
                new E.Cpuid(1, 0), // current: OSXSAVE=1
                new E.SetMsrs(Msrs((Msr.MiscFeaturesEnables, 1))),
                new E.SetCpl(0),
                new E.Cpuid(1, 0),
                new E.GetCpuid2(256)
            )
        );
    }

    /// <summary>
    /// MSR_PLATFORM_INFO is the host's: before the first KVM_RUN KVM_SET_MSRS may clear the CPUID-faulting bit (6.1
    /// refuses while faulting is on), a guest WRMSR is a #GP, without the bit MISC_FEATURES_ENABLES refuses faulting
    /// from the guest and from the host, and after KVM_RUN 6.13 on keeps the value (a feature MSR) while 6.1 takes the
    /// bit back. PVM's vendor code turns faulting on without the bit (<see cref="KernelFences.CpuidFaultingNeedsPlatformInfo"/>):
    /// there exactly those writes differ, taken by the kernel and refused by the model, and the CPL3 CPUID after them,
    /// which faults on the kernel only.
    /// </summary>
    [Fact]
    public void The_host_owns_PLATFORM_INFO_and_without_its_faulting_bit_CPUID_faulting_cannot_be_turned_on()
    {
        var c = Scenario(
                new E.SetMsrs(Msrs((Msr.MiscFeaturesEnables, 1))),
                new E.SetMsrs(Msrs((Msr.PlatformInfo, 0))), // 6.1: refused while faulting is on
                new E.SetMsrs(Msrs((Msr.MiscFeaturesEnables, 0))),
                new E.SetMsrs(Msrs((Msr.PlatformInfo, 0))),
                new E.Run(),
                new E.Wrmsr(Msr.PlatformInfo, 0), // #GP
                new E.Rdmsr(Msr.PlatformInfo),
                new E.Wrmsr(Msr.MiscFeaturesEnables, 1), // #GP
                new E.SetMsrs(Msrs((Msr.MiscFeaturesEnables, 1))), // refused
                new E.SetMsrs(Msrs((Msr.PlatformInfo, Msr.PlatformInfoCpuidFault))), // 6.1 only: fixed after KVM_RUN from 6.13
                new E.Rdmsr(Msr.PlatformInfo),
                new E.Wrmsr(Msr.MiscFeaturesEnables, 1),
                new E.SetCpl(3),
                new E.Cpuid(1, 0) // #GP where faulting got turned on
            );
        var fences = Fences();
        if (fences.CpuidFaultingNeedsPlatformInfo)
        {
            AssertAgrees(c);
            return;
        }
        // Only PVM's vendor code may turn faulting on without the bit: the three writes that do it, and the CPUID after.
        Assert.True(fences.Kernel.IsPvm, "an upstream kernel turned CPUID faulting on without MSR_PLATFORM_INFO[31]:\n" + c.Report());
        AssertRan(c);
        var differing = c.Rows.Where(r => !r.Agrees).ToList();
        Assert.True(differing.Select(r => r.Step).SequenceEqual([7, 8, 11, 13]), "expected steps 7, 8, 11 and 13 to differ:\n" + c.Report());
        Assert.True(differing.Take(3).All(FaultingTurnedOnByTheKernelOnly) && CpuidFaultedByTheKernelOnly(differing[3]), c.Report());
    }

    private static bool FaultingTurnedOnByTheKernelOnly(ObservationRow r) => (r.Event, r.KernelObservation, r.Lazy, r.Eager) switch
    {
        (E.Wrmsr(Msr.MiscFeaturesEnables, Msr.MiscFeaturesCpuidFault), null, Observation.Fault(X86Exception.GP), Observation.Fault(X86Exception.GP)) => true,
        (E.SetMsrs(var entries), Observation.IoctlDone(1), Observation.IoctlDone(0), Observation.IoctlDone(0)) =>
            entries.Count == 1 && entries[0] == new MsrEntry(Msr.MiscFeaturesEnables, Msr.MiscFeaturesCpuidFault),
        _ => false,
    };

    private static bool CpuidFaultedByTheKernelOnly(ObservationRow r) =>
        r.Event is E.Cpuid && r.KernelObservation is Observation.Fault(X86Exception.GP) && r.Lazy is Observation.CpuidResult && r.Eager is Observation.CpuidResult;

    /// <summary>
    /// MONITOR/MWAIT (<c>kvm_emulate_monitor_mwait</c>): a NOP while MWAIT_NEVER_UD_FAULTS is in effect; with it
    /// disabled, #UD unless the guest may use MWAIT, which with MISC_ENABLE_NO_MWAIT in effect is its CPUID bit and
    /// without it IA32_MISC_ENABLE[18] (6.18; 6.1 reads the CPUID bit, which then follows bit 18); above CPL0 #UD
    /// whatever the quirks, the processor's check coming before the intercept. Skipped where the kernel cannot run the
    /// oracle's MONITOR (PVM's instruction emulator: <see cref="KernelFences.GuestMonitorMwaitReachesKvm"/>).
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void MONITOR_and_MWAIT_are_a_NOP_or_UD_as_the_quirks_and_the_guests_MWAIT_say(bool cpuidMwait)
    {
        if (Fences() is { GuestMonitorMwaitReachesKvm: false } fences)
        {
            // Only PVM's instruction emulator may fail here; on an upstream kernel a difference is a model bug.
            Assert.True(fences.Kernel.IsPvm, "MONITOR/MWAIT probe disagrees on an upstream kernel: " + fences);
            Assert.Skip($"PVM's instruction emulator cannot run the oracle's MONITOR/MWAIT on {fences.Kernel}");
        }
        var c = ScenarioOn(
            t => WithLeaf1Bit(t, CpuidRegister.Ecx, 3, cpuidMwait),
            0,
            [
                new E.Run(),
                new E.MonitorMwait(), // NOP: the quirk is in effect
                new E.SetCpl(3),
                new E.MonitorMwait(), // #UD
                new E.SetCpl(0),
                new E.DisableQuirks2(QuirkNeverUd),
                new E.MonitorMwait(), // #UD unless CPUID.1:ECX.MWAIT
                new E.SetCpl(3),
                new E.MonitorMwait(), // #UD
                new E.SetCpl(0),
                new E.Rdmsr(Msr.MiscEnable),
                new E.Wrmsr(Msr.MiscEnable, Msr.MiscEnableDefault | Msr.MiscEnableMwait),
                new E.DisableQuirks2(QuirkNeverUd | QuirkNoMwait),
                new E.Cpuid(1, 0),
                new E.MonitorMwait(),
                new E.Wrmsr(Msr.MiscEnable, Msr.MiscEnableDefault),
                new E.Cpuid(1, 0),
                new E.MonitorMwait(),
                new E.DisableQuirks2(0), // 6.18 keeps both disabled; 6.1 assigns, enabling both again
                new E.MonitorMwait(),
            ]
        );
        AssertAgrees(c);
        // The writes keep upstream's RESET value of IA32_MISC_ENABLE (PVM, which starts elsewhere, never gets here):
        // neither may fault, or bit 18 would never have reached KVM.
        Assert.All(c.Rows.Where(r => r.Event is E.Wrmsr), r => Assert.True(r.KernelObservation is null, c.Report()));
    }

    /// <summary>
    /// IA32_TSX_CTRL under kvm_amd: only kvm_intel's vendor code handles it, so it is an MSR KVM does not know. The
    /// guest's RDMSR and WRMSR are #GP, KVM_SET_MSRS and KVM_GET_MSRS stop at it. (kvm_intel's answer depends on the
    /// host's IA32_ARCH_CAPABILITIES, which the model assumes and does not ask: not run there.)
    /// </summary>
    [Fact]
    public void Under_kvm_amd_IA32_TSX_CTRL_is_an_MSR_KVM_does_not_know()
    {
        if (LiveKernelIdentity.Current.VendorModule != "kvm_amd")
        {
            Assert.Skip($"needs kvm_amd; this kernel is {LiveKernelIdentity.Current}");
        }
        AssertAgrees(
            Scenario(
                new E.Run(),
                new E.Rdmsr(Msr.TsxCtrl), // #GP
                new E.Wrmsr(Msr.TsxCtrl, Msr.TsxCtrlCpuidClear), // #GP
                new E.SetMsrs(Msrs((Msr.MiscFeaturesEnables, 0), (Msr.TsxCtrl, Msr.TsxCtrlCpuidClear))), // 1
                new E.GetMsrs(new([Msr.MiscFeaturesEnables, Msr.TsxCtrl])), // one entry
                new E.Cpuid(7, 0)
            )
        );
    }

    /// <summary>
    /// SMI and RSM (KVM_CAP_X86_SMM): <c>enter_smm</c> clears CR4 and always updates, so in SMM CPUID shows OSXSAVE
    /// and OSPKE clear (a MOV CR4 in SMM still works); RSM restores CR4 and the CPL the SMI interrupted, and outside
    /// SMM RSM is #UD. From CPL3 the SMM handler is the real-mode interpreter at CPL0, RSM returns to CPL3 (CPUID
    /// faulting there shows the ring transition still works).
    /// </summary>
    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    public void SMI_clears_CR4_OSXSAVE_and_PKE_and_RSM_restores_them(byte cpl)
    {
        using var kvm = LiveKernel.OpenOrSkip();
        SkipWithoutSmm(kvm);
        var host = LiveKernel.Host(kvm);
        var supported = LiveKernel.Supported(kvm);
        var fences = KernelFences.ForThisKernel(kvm, host, supported);
        var cr4 = OsXsave | (fences.AgreedDynamicCr4 & Cr4.Pke);
        var refused = fences.AgreedRefusedCr4 & (0 - fences.AgreedRefusedCr4); // the lowest CR4 bit both refuse
        using var target = Create(kvm, supported, 0);
        var events = new List<E> { new E.Run(), new E.MovToCr4(cr4), new E.SetCpl(cpl), new E.Cpuid(1, 0), new E.Cpuid(7, 0) };
        events.AddRange([new E.EnterSmm(), new E.Cpuid(1, 0), new E.Cpuid(7, 0), new E.GetCpuid2(256)]);
        if (refused != 0)
        {
            events.Add(new E.MovToCr4(OsXsave | refused)); // #GP inside SMM: the stub's real-mode IDTR delivers it
        }
        events.AddRange([new E.MovToCr4(OsXsave), new E.Cpuid(1, 0), new E.Rsm(), new E.Cpuid(1, 0), new E.Cpuid(7, 0)]);
        events.AddRange([new E.Rsm(), new E.Cpuid(1, 0), new E.GetCpuid2(256)]); // #UD outside SMM
        if (cpl == 3)
        {
            events.AddRange([new E.SetMsrs(Msrs((Msr.MiscFeaturesEnables, 1))), new E.Cpuid(1, 0)]); // #GP from CPL3
            events.AddRange([new E.SetMsrs(Msrs((Msr.MiscFeaturesEnables, 0))), new E.SetCpl(0), new E.Cpuid(1, 0)]);
        }
        AssertAgrees(LiveComparison.Run(target, host, events));
    }

    /// <summary>
    /// An MSR no KVM handles (<see cref="Msr.NotKnownToKvm"/>): the guest's RDMSR and WRMSR are #GP, and KVM_SET_MSRS and
    /// KVM_GET_MSRS stop at it, after the entries before it.
    /// </summary>
    [Fact]
    public void An_MSR_KVM_does_not_know_is_GP_for_the_guest_and_stops_KVM_SET_MSRS_and_KVM_GET_MSRS()
    {
        AssertAgrees(
            Scenario(
                new E.Run(),
                new E.Rdmsr(Msr.NotKnownToKvm),
                new E.Wrmsr(Msr.NotKnownToKvm, 0),
                new E.SetMsrs(Msrs((Msr.MiscFeaturesEnables, 0), (Msr.NotKnownToKvm, 0), (Msr.MiscFeaturesEnables, 1))),
                new E.GetMsrs(new([Msr.MiscFeaturesEnables, Msr.NotKnownToKvm, Msr.ApicBase])),
                new E.Cpuid(1, 0)
            )
        );
    }

    /// <summary>
    /// KVM_SET_CPUID2 of a table whose CPUID.0xD.0 offers AMX tile data (XTILEDATA, the one dynamic XSAVE feature),
    /// which this process never asked to give a guest (arch_prctl ARCH_REQ_XCOMP_GUEST_PERM; on a host without AMX it
    /// could not): EPERM with nothing installed (<c>kvm_check_cpuid</c>, <c>fpu_enable_guest_xfd_features</c>). The
    /// model's host for this kernel has what KVM_GET_SUPPORTED_CPUID offered, which has no XTILEDATA for such a process.
    /// XTILECFG alone is no dynamic feature: that table is installed.
    /// </summary>
    [Fact]
    public void KVM_SET_CPUID2_offering_AMX_tile_data_this_process_may_not_give_is_EPERM()
    {
        CpuidTable supported;
        using (var kvm = LiveKernel.OpenOrSkip())
        {
            supported = LiveKernel.Supported(kvm);
        }
        var tileData = OfferingTileData(supported);
        var tileCfgOnly = Edit(supported, 0xD, 0, e => e with { Eax = (e.Eax | (uint)Xcr0.XtileCfg) & ~(uint)Xcr0.XtileData });
        Assert.NotEqual(supported, tileData); // the kernel offered no XTILEDATA, and the table has a 0xD.0 entry
        E[] refusedThenInstalled = [new E.SetCpuid2(tileData), new E.GetCpuid2(256), new E.SetCpuid2(tileCfgOnly)]; // EPERM, unchanged, ok
        E[] whatWasInstalled = [new E.GetCpuid2(256), new E.Run(), new E.Cpuid(0xD, 0)];
        var fences = Fences();
        if (fences.SetCpuid2KeepsTable)
        {
            AssertAgrees(Scenario([.. refusedThenInstalled, .. whatWasInstalled]));
            return;
        }
        // PVM installs its own rewrite of a pre-run table: only KVM_SET_CPUID2's answers are the kernel's to compare.
        Assert.True(fences.Kernel.IsPvm, "an upstream kernel rewrote a pre-run KVM_SET_CPUID2 table: " + fences);
        TestContext.Current.TestOutputHelper?.WriteLine("the kernel rewrites pre-run tables: compared up to the second KVM_SET_CPUID2");
        AssertAgrees(Scenario(refusedThenInstalled));
    }

    // ---- helpers ----

    private static IEnumerable<E> OutOfRangeQueries() =>
        new (uint Leaf, uint Sub)[]
        {
            (0xE, 0), (0x14, 0), (0x21, 0), (0x8000_00FF, 0), (0x4000_0002, 0), (0x4000_0100, 0), (0x4FFF_FFFF, 0),
            (0x5000_0000, 0), (0x7FFF_FFFF, 0), (0xC000_0000, 0), (0xFFFF_FFFF, 0), (0xE, 1), (0x8000_00FF, 1),
            (0x4000_0100, 1), (0xFFFF_FFFF, 1), (0x1F, 1), (0x4000_0000, 0),
        }.Select(q => (E)new E.Cpuid(q.Leaf, q.Sub));

    /// <summary>The supported table cut at <paramref name="maxBasic"/> (leaf 0 EAX too), with Intel's or AMD's vendor string.</summary>
    private static CpuidTable Truncate(CpuidTable supported, uint maxBasic, bool amd)
    {
        var t = supported.RemoveAll(e => e.Function > maxBasic && e.Function < 0x4000_0000);
        var i = t.IndexOfFunction(0);
        // The vendor string is set either way: the host may be Intel (PVM) or AMD (the TCG guest's kvm_amd).
        var (ebx, ecx, edx) = amd ? Vendor.Amd : Vendor.Intel;
        return t.SetItem(i, t[i] with { Eax = maxBasic, Ebx = ebx, Ecx = ecx, Edx = edx });
    }

    private static LiveComparison MwaitCase(bool quirkDisabled, bool cpuidMwait, bool miscEnableMwait)
    {
        using var kvm = LiveKernel.OpenOrSkip();
        var host = LiveKernel.Host(kvm);
        var table = WithLeaf1Bit(LiveKernel.Supported(kvm), CpuidRegister.Ecx, 3, cpuidMwait);
        using var target = Create(kvm, table, quirkDisabled ? QuirkNoMwait : 0);
        var misc = (target.StartRegisters.MiscEnable & ~Msr.MiscEnableMwait) | (miscEnableMwait ? Msr.MiscEnableMwait : 0);
        return LiveComparison.Run(
            target,
            host,
            [
                new E.GetCpuid2(256),
                new E.Run(),
                new E.Rdmsr(Msr.MiscEnable),
                new E.Wrmsr(Msr.MiscEnable, misc),
                new E.Rdmsr(Msr.MiscEnable),
                new E.Cpuid(1, 0),
                new E.MovToCr4(OsXsave), // an unrelated trigger
                new E.Cpuid(1, 0),
                new E.GetCpuid2(256),
            ]
        );
    }

    private static bool? MwaitOf(Observation? o) => o switch
    {
        Observation.CpuidResult r when r.Leaf == 1 => (r.Ecx & 8) != 0,
        Observation.Cpuid2(var t) when t.Find(1, 0) is { } leaf1 => leaf1.Has(CpuidRegister.Ecx, 3),
        _ => null,
    };

    private static Observation? WithoutMwait(Observation? o) => LiveComparison.Normalize(o) switch
    {
        Observation.CpuidResult r when r.Leaf == 1 => r with { Ecx = r.Ecx & ~8u },
        Observation.Cpuid2(var t) => new Observation.Cpuid2(WithLeaf1Bit(t, CpuidRegister.Ecx, 3, false)),
        var other => other,
    };

    private static LiveKvmTarget Create(KvmSystem kvm, CpuidTable table, ulong quirks) =>
        LiveKvmTarget.Create(kvm, table, quirks) switch
        {
            IoctlResult<LiveKvmTarget>.Ok(var t) => t,
            var failed => throw new InvalidOperationException($"live set-up failed: {failed}"),
        };

    private static LiveComparison Scenario(params E[] events) => ScenarioOn(t => t, 0, events);

    private static KernelFences Fences()
    {
        using var kvm = LiveKernel.OpenOrSkip();
        return KernelFences.ForThisKernel(kvm, LiveKernel.Host(kvm), LiveKernel.Supported(kvm));
    }

    private static LiveComparison ScenarioOn(Func<CpuidTable, CpuidTable> table, ulong quirks, E[] events)
    {
        using var kvm = LiveKernel.OpenOrSkip();
        HostCpu host = LiveKernel.Host(kvm);
        var fences = KernelFences.ForThisKernel(kvm, host, LiveKernel.Supported(kvm));
        return LiveComparison.Run(kvm, host, table(LiveKernel.Supported(kvm)), quirks, fences.Fence(events));
    }

    /// <summary>A target whose VM has an in-kernel APIC, to latch INITs; the test skips where KVM_CREATE_IRQCHIP is refused.</summary>
    private static LiveKvmTarget CreateWithInKernelApic(KvmSystem kvm)
    {
        var created = LiveKvmTarget.Create(kvm, LiveKernel.Supported(kvm), inKernelApic: true);
        if (created is IoctlResult<LiveKvmTarget>.Failed { Call: "KVM_CREATE_IRQCHIP" } f)
        {
            Assert.Skip($"no in-kernel APIC on {KvmSystem.KernelRelease} to latch an INIT: {f}");
        }
        return Assert.IsType<IoctlResult<LiveKvmTarget>.Ok>(created).Value;
    }

    /// <summary>Skips the test where the kernel has no SMM (KVM_CAP_X86_SMM 0).</summary>
    private static void SkipWithoutSmm(KvmSystem kvm)
    {
        if (!kvm.Probe().Smm)
        {
            Assert.Skip($"KVM_CAP_X86_SMM is 0 on {KvmSystem.KernelRelease}");
        }
    }

    private static void AssertRan(LiveComparison c)
    {
        Assert.True(c.Rows.All(r => r.Kernel is LiveResult.Observed), c.Report());
        Assert.True(c.Observations > 0, c.Report());
    }

    private static void AssertAgrees(LiveComparison c)
    {
        AssertRan(c);
        TestContext.Current.TestOutputHelper?.WriteLine($"{c.Rows.Count} steps, {c.Observations} observations compared on {c.Kernel}");
        Assert.True(c.Agrees, "model and kernel disagree ('*' rows):\n" + c.Report());
    }
}
