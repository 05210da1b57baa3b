using CpuidFunctional.Interpreter.Machine;
using CpuidFunctional.Interpreter.Vmx;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace CpuidFunctional.Properties.Interpreter;

public class NestedTests
{
    private static readonly RoundTripSetup Setup = new();

    /// <summary>L1 handler: report the exit reason (port 0x80) and qualification (port 0x82), then halt.</summary>
    private static void ReportExit(Assembler a)
    {
        a.mov(ebx, VmcsField.VmExitReason);
        a.vmread(rax, rbx);
        a.@out(0x80, eax);
        a.mov(ebx, VmcsField.ExitQualification);
        a.vmread(rax, rbx);
        a.@out(0x82, eax);
        a.hlt();
    }

    private static RunResult RunL2(Action<Assembler> l2, RoundTripSetup? setup = null) =>
        TestMachine.RunAgreeing(RoundTrip.Build(setup ?? Setup, ReportExit, l2));

    private static uint ExitReasonOf(RunResult r)
    {
        Assert.True(r.Stop is StopReason.Halted, TestMachine.Describe(r));
        return r.Outputs.Single(o => o.Port == 0x80).Value;
    }

    [Fact]
    public void L2_cpuid_exits_with_reason_10_and_l0_never_answers_it()
    {
        var r = RunL2(a => a.cpuid());
        Assert.Equal(ExitReason.Cpuid, ExitReasonOf(r));
        Assert.DoesNotContain(r.Trace, e => e is VcpuEvent.Cpuid);
        Assert.Equal(2ul, r.Final.Vmx.Read(VmcsField.VmExitInstructionLen));
    }

    [Fact]
    public void Vm_entry_and_exit_load_guest_and_host_cr4_through_core()
    {
        var r = RunL2(a => a.cpuid());
        var entry = Assert.Single(r.Trace, e => e is VcpuEvent.NestedVmEntry);
        var exit = Assert.Single(r.Trace, e => e is VcpuEvent.NestedVmExit);
        Assert.Equal(new VcpuEvent.NestedVmEntry(Setup.GuestCr4), entry);
        Assert.Equal(new VcpuEvent.NestedVmExit(Setup.HostCr4), exit);
        Assert.Equal(Setup.HostCr4, r.Final.Cr4);
        Assert.False(r.Final.InL2);
    }

    [Fact]
    public void Exit_saves_l2_state_and_l1_resumes_at_host_rip_with_host_rsp()
    {
        var r = RunL2(a =>
        {
            a.nop();
            a.cpuid();
        });
        Assert.Equal(RoundTrip.L2StackTop, r.Final.Vmx.Read(VmcsField.GuestRsp));
        var guestRip = r.Final.Vmx.Read(VmcsField.GuestRip);
        Assert.Equal(0xA20Ful, r.Final.Memory.Read(guestRip, 2)); // GUEST_RIP points at the CPUID (0F A2), not past it
        Assert.Equal(Setup.GuestCr4, r.Final.Vmx.Read(VmcsField.GuestCr4));
        Assert.Equal(MachineLayout.InitialRsp, r.Final.Regs[Registers.Rsp]);
    }

    [Fact]
    public void L2_xsetbv_exits_with_reason_55_when_l2_has_osxsave()
    {
        var r = RunL2(a => a.xsetbv(), Setup with { GuestCr4 = Setup.GuestCr4 | Cr4.OsXsave });
        Assert.Equal(ExitReason.Xsetbv, ExitReasonOf(r));
        Assert.DoesNotContain(r.Trace, e => e is VcpuEvent.Xsetbv);
    }

    [Fact]
    public void L2_xsetbv_without_osxsave_is_ud_and_exits_only_if_the_exception_bitmap_asks()
    {
        var stopped = TestMachine.Run(RoundTrip.Build(Setup, ReportExit, a => a.xsetbv()));
        Assert.Equal(new StopReason.UnhandledFault(2, stopped.Final.Regs.Rip, X86Exception.UD), stopped.Stop);

        var r = RunL2(a => a.xsetbv(), Setup with { ExceptionBitmap = 1u << 6 });
        Assert.Equal(ExitReason.ExceptionOrNmi, ExitReasonOf(r));
        Assert.Equal(6ul | (3ul << 8) | (1ul << 31), r.Final.Vmx.Read(VmcsField.VmExitIntrInfo));
    }

    [Fact]
    public void L2_vmcall_exits_with_reason_18()
    {
        Assert.Equal(ExitReason.Vmcall, ExitReasonOf(RunL2(a => a.vmcall())));
    }

    [Fact]
    public void L2_vmx_instructions_exit_to_l1()
    {
        Assert.Equal(ExitReason.Vmread, ExitReasonOf(RunL2(a => a.vmread(rax, rbx))));
        Assert.Equal(ExitReason.Vmlaunch, ExitReasonOf(RunL2(a => a.vmlaunch())));
    }

    [Fact]
    public void L2_hlt_exits_with_reason_12_only_with_hlt_exiting()
    {
        var r = RunL2(a => a.hlt(), Setup with { ExtraProcControls = VmxCapabilities.ProcHltExiting });
        Assert.Equal(ExitReason.Hlt, ExitReasonOf(r));
        var asleep = TestMachine.Run(RoundTrip.Build(Setup, ReportExit, a => a.hlt()));
        Assert.IsType<StopReason.L2Halted>(asleep.Stop);
    }

    [Fact]
    public void L2_mov_to_cr4_touching_an_l1_owned_bit_exits_with_reason_28()
    {
        var setup = Setup with { Cr4GuestHostMask = Cr4.OsXsave, Cr4ReadShadow = 0 };
        var r = RunL2(
            a =>
            {
                a.mov(rax, cr4);
                a.or(rax, (int)Cr4.OsXsave);
                a.mov(cr4, rax);
            },
            setup
        );
        Assert.Equal(ExitReason.CrAccess, ExitReasonOf(r));
        Assert.Equal(4u | (0u << 8), r.Outputs.Single(o => o.Port == 0x82).Value); // CR4, MOV to CR, RAX
        Assert.IsType<VcpuEvent.NestedVmEntry>(r.Trace[^2]); // no MOV CR4 event between entry and exit
        Assert.IsType<VcpuEvent.NestedVmExit>(r.Trace[^1]);
    }

    [Fact]
    public void L2_mov_to_cr4_of_a_bit_l1_does_not_own_is_applied_by_l0_as_a_core_event()
    {
        var r = RunL2(a =>
        {
            a.mov(rax, cr4);
            a.or(rax, (int)Cr4.Pke);
            a.mov(cr4, rax);
            a.vmcall();
        });
        Assert.Equal(ExitReason.Vmcall, ExitReasonOf(r));
        Assert.Contains(new VcpuEvent.MovToCr4(Setup.GuestCr4 | Cr4.Pke), r.Trace);
        Assert.Equal(Setup.GuestCr4 | Cr4.Pke, r.Final.Vmx.Read(VmcsField.GuestCr4));
    }

    [Fact]
    public void L2_reads_the_cr4_read_shadow_for_bits_l1_owns()
    {
        var setup = Setup with { Cr4GuestHostMask = Cr4.OsXsave, Cr4ReadShadow = Cr4.OsXsave };
        var r = RunL2(
            a =>
            {
                a.mov(rax, cr4);
                a.mov(r15, rax);
                a.vmcall();
            },
            setup
        );
        Assert.Equal(Setup.GuestCr4 | Cr4.OsXsave, r.Final.Regs[15]);
    }

    [Fact]
    public void L2_rdmsr_and_wrmsr_exit_with_reasons_31_and_32()
    {
        Assert.Equal(ExitReason.Rdmsr, ExitReasonOf(RunL2(a => a.rdmsr())));
        Assert.Equal(ExitReason.Wrmsr, ExitReasonOf(RunL2(a => a.wrmsr())));
    }

    [Fact]
    public void L2_out_reaches_the_host_unless_l1_sets_unconditional_io_exiting()
    {
        var direct = RunL2(a =>
        {
            a.mov(eax, 7);
            a.@out(0x99, al);
            a.vmcall();
        });
        Assert.Contains(new PortOutput(2, 0x99, 7, 1), direct.Outputs);
        var exits = RunL2(a => a.@out(0x99, al), Setup with { ExtraProcControls = VmxCapabilities.ProcUnconditionalIoExiting });
        Assert.Equal(ExitReason.IoInstruction, ExitReasonOf(exits));
        Assert.Equal((0x99u << 16) | (1u << 6), exits.Outputs.Single(o => o.Port == 0x82).Value);
    }

    [Fact]
    public void L2_pause_exits_with_reason_40_with_pause_exiting()
    {
        var r = RunL2(a => a.pause(), Setup with { ExtraProcControls = VmxCapabilities.ProcPauseExiting });
        Assert.Equal(ExitReason.Pause, ExitReasonOf(r));
    }

    [Fact]
    public void Entry_msr_load_list_goes_through_core_in_order()
    {
        var setup = Setup with { EntryMsrLoad = [new MsrEntry(Msr.Xss, 0x100)], ExitMsrLoad = [new MsrEntry(Msr.Xss, 0)] };
        var r = RunL2(a => a.vmcall(), setup);
        Assert.Contains(new VcpuEvent.NestedVmEntry(setup.GuestCr4, new([new MsrEntry(Msr.Xss, 0x100)])), r.Trace);
        Assert.Contains(new VcpuEvent.NestedVmExit(setup.HostCr4, new([new MsrEntry(Msr.Xss, 0)])), r.Trace);
        Assert.Equal(0ul, r.Final.Kvm.Vcpu.Xss);
    }

    [Fact]
    public void A_refused_entry_msr_fails_the_entry_with_reason_34_and_its_index_then_loads_host_state()
    {
        var setup = Setup with { EntryMsrLoad = [new MsrEntry(Msr.Xss, 0), new MsrEntry(0xC000_0100, 0)] };
        var r = RunL2(a => a.vmcall(), setup);
        var launch = r.Observations.OfType<RunObservation.VmEntryFailed>().Single();
        Assert.Equal(ExitReason.MsrLoading | ExitReason.EntryFailure, launch.ExitReason);
        Assert.Equal(2ul, launch.Qualification);
        Assert.Equal(ExitReason.MsrLoading | ExitReason.EntryFailure, ExitReasonOf(r));
        Assert.Equal(setup.HostCr4, r.Final.Cr4);
        Assert.False(r.Final.Vmx.Current.Launched);
    }

    [Fact]
    public void A_core_refused_entry_msr_is_reported_by_core_with_its_index()
    {
        var setup = Setup with { EntryMsrLoad = [new MsrEntry(Msr.Xss, 0x1)] }; // bit 0 is not a supported XSS bit
        var r = RunL2(a => a.vmcall(), setup);
        Assert.Contains(r.Observations, o => o is RunObservation.Kvm { Value: Observation.VmEntryMsrLoadFailed { Qualification: 1 } });
        Assert.Equal(ExitReason.MsrLoading | ExitReason.EntryFailure, ExitReasonOf(r));
        Assert.IsType<VcpuEvent.NestedVmExit>(r.Trace[^1]);
    }

    /// <summary>
    /// From 6.16 <c>nested_vmx_check_msr_switch</c> refuses an MSR-load count above the 512 entries KVM advertises:
    /// VMLAUNCH fails with VM-instruction error 7 and nothing is loaded. 6.15 loads 512 entries and fails the entry at
    /// the 513th (exit reason 34, qualification 513). 512 entries enter on both.
    /// </summary>
    [Fact]
    public void An_msr_load_list_of_513_entries_is_an_invalid_control_on_6_18_and_fails_at_entry_513_on_6_15()
    {
        static Program WithEntries(int count) =>
            RoundTrip.Build(Setup with { EntryMsrLoad = [.. Enumerable.Repeat(new MsrEntry(Msr.MiscFeaturesEnables, 0), count)] }, ReportExit, a => a.vmcall());
        var on618 = TestMachine.RunAgreeing(WithEntries(513));
        Assert.Equal(VmInstructionError.EntryInvalidControls, on618.Observations.OfType<RunObservation.VmFail>().Single().Error);
        Assert.DoesNotContain(on618.Trace, e => e is VcpuEvent.NestedVmEntry);
        var on615 = TestMachine.RunAgreeing(WithEntries(513), vm: TestMachine.Vm6_15);
        var failed = on615.Observations.OfType<RunObservation.VmEntryFailed>().Single();
        Assert.Equal((ExitReason.MsrLoading | ExitReason.EntryFailure, 513ul), (failed.ExitReason, failed.Qualification));
        Assert.Equal(ExitReason.Vmcall, ExitReasonOf(TestMachine.RunAgreeing(WithEntries(512))));
        Assert.Equal(ExitReason.Vmcall, ExitReasonOf(TestMachine.RunAgreeing(WithEntries(512), vm: TestMachine.Vm6_15)));
    }

    [Fact]
    public void Invalid_guest_cr4_fails_the_entry_with_reason_33()
    {
        var r = RunL2(a => a.vmcall(), Setup with { GuestCr4 = MachineLayout.InitialCr4 }); // VMXE missing
        Assert.Equal(ExitReason.InvalidGuestState | ExitReason.EntryFailure, ExitReasonOf(r));
        Assert.DoesNotContain(r.Trace, e => e is VcpuEvent.NestedVmEntry);
    }

    /// <summary>
    /// KVM's IA32_VMX_MISC offers the HLT and wait-for-SIPI activity states (<c>nested_check_guest_non_reg_state</c>
    /// accepts them and no other inactive state). An entry into HLT halts the vCPU in L2 at GUEST_RIP, since nothing can
    /// wake it; into wait-for-SIPI it waits for a SIPI (<c>nested_vmx_run</c>). Shutdown (2) fails the entry.
    /// </summary>
    [Theory]
    [InlineData(1ul)]
    [InlineData(3ul)]
    public void An_entry_into_the_HLT_or_wait_for_SIPI_activity_state_stops_L2_at_GUEST_RIP(ulong activity)
    {
        var setup = Setup with { ExtraVmwrites = [(VmcsField.GuestActivityState, activity)] };
        var r = TestMachine.RunAgreeing(RoundTrip.Build(setup, ReportExit, a => a.cpuid()));
        Assert.Single(r.Trace, e => e is VcpuEvent.NestedVmEntry);
        Assert.True(r.Final.InL2);
        var expected = activity == 1 ? (StopReason)new StopReason.L2Halted(r.Final.Regs.Rip) : new StopReason.L2WaitingForSipi(r.Final.Regs.Rip);
        Assert.Equal(expected, r.Stop);
        Assert.Equal(r.Final.Vmx.Read(VmcsField.GuestRip), r.Final.Regs.Rip); // no L2 instruction ran
    }

    [Fact]
    public void The_shutdown_activity_state_fails_the_entry_with_reason_33()
    {
        var r = RunL2(a => a.cpuid(), Setup with { ExtraVmwrites = [(VmcsField.GuestActivityState, 2)] });
        Assert.Equal(ExitReason.InvalidGuestState | ExitReason.EntryFailure, ExitReasonOf(r));
    }

    /// <summary>KVM's IA32_VMX_MISC reports no CR3-target values (bits 24:16 are 0), so any CR3_TARGET_COUNT is an invalid control.</summary>
    [Fact]
    public void A_cr3_target_count_above_zero_is_an_invalid_control()
    {
        var r = TestMachine.RunAgreeing(RoundTrip.Build(Setup with { ExtraVmwrites = [(VmcsField.Cr3TargetCount, 1)] }, ReportExit, a => a.cpuid()));
        Assert.Equal(VmInstructionError.EntryInvalidControls, r.Observations.OfType<RunObservation.VmFail>().Single().Error);
        Assert.DoesNotContain(r.Trace, e => e is VcpuEvent.NestedVmEntry);
    }

    /// <summary>
    /// <c>nested_vmx_check_host_state</c> beyond CR0/CR4/RIP: host selectors without RPL or TI bits, HOST_CS and
    /// HOST_TR not null (HOST_SS may be, for a 64-bit host), canonical bases and SYSENTER addresses, HOST_CR3 within
    /// MAXPHYADDR, a valid loaded HOST_IA32_EFER: otherwise VMfail 8. And <c>nested_vmx_check_nmi_controls</c>: virtual
    /// NMIs without NMI exiting is VMfail 7.
    /// </summary>
    [Theory]
    [InlineData("HOST_CS null", VmcsField.HostCsSelector, 0ul, 8)]
    [InlineData("HOST_TR null", VmcsField.HostTrSelector, 0ul, 8)]
    [InlineData("HOST_DS with RPL 3", VmcsField.HostDsSelector, 0x13ul, 8)]
    [InlineData("HOST_FS with TI", VmcsField.HostFsSelector, 0x14ul, 8)]
    [InlineData("non-canonical HOST_GS_BASE", VmcsField.HostGsBase, 0x0000_8000_0000_0000ul, 8)]
    [InlineData("non-canonical HOST_IA32_SYSENTER_EIP", VmcsField.HostIa32SysenterEip, 0x1234_0000_0000_0000ul, 8)]
    [InlineData("HOST_CR3 above MAXPHYADDR", VmcsField.HostCr3, 1ul << 50, 8)]
    [InlineData("virtual NMIs without NMI exiting", VmcsField.PinBasedVmExecControl, VmxCapabilities.PinMust1 | VmxCapabilities.PinVirtualNmis, 7)]
    [InlineData("HOST_SS null", VmcsField.HostSsSelector, 0ul, 0)]
    [InlineData("virtual NMIs with NMI exiting", VmcsField.PinBasedVmExecControl, VmxCapabilities.PinMust1 | VmxCapabilities.PinVirtualNmis | VmxCapabilities.PinNmiExiting, 0)]
    public void KVMs_host_state_and_NMI_control_checks_fail_VMLAUNCH(string what, uint field, ulong value, int error)
    {
        var r = TestMachine.RunAgreeing(RoundTrip.Build(Setup with { ExtraVmwrites = [(field, value)] }, ReportExit, a => a.vmcall()));
        var failed = r.Observations.OfType<RunObservation.VmFail>().SingleOrDefault();
        if (error == 0)
        {
            Assert.True(failed is null, $"{what}: {failed}");
            Assert.Equal(ExitReason.Vmcall, ExitReasonOf(r));
        }
        else
        {
            Assert.True(failed is not null, $"{what}: VMLAUNCH did not fail");
            Assert.Equal((VmInstructionError)error, failed.Error);
        }
    }

    /// <summary>
    /// <c>nested_vmx_check_guest_state</c>: with "load debug controls" GUEST_DR7 bits 63:32 must be clear; with
    /// "load IA32_EFER" GUEST_IA32_EFER must be valid (here: a reserved bit). Either fails the entry with reason 33.
    /// </summary>
    [Theory]
    [InlineData(VmxCapabilities.EntryLoadDebugControls, VmcsField.GuestDr7, 1ul << 32)]
    [InlineData(VmxCapabilities.EntryLoadEfer, VmcsField.GuestIa32Efer, MachineLayout.InitialEfer | (1ul << 9))]
    public void KVMs_guest_state_checks_fail_the_entry_with_reason_33(uint entryControl, uint field, ulong value)
    {
        var entry = VmxCapabilities.EntryTrueMust1 | VmxCapabilities.EntryIa32eModeGuest | entryControl;
        var valid = field == VmcsField.GuestDr7 ? 0x400ul : MachineLayout.InitialEfer;
        var ok = RunL2(a => a.vmcall(), Setup with { ExtraVmwrites = [(VmcsField.VmEntryControls, entry), (field, valid)] });
        Assert.Equal(ExitReason.Vmcall, ExitReasonOf(ok));
        var bad = RunL2(a => a.vmcall(), Setup with { ExtraVmwrites = [(VmcsField.VmEntryControls, entry), (field, value)] });
        Assert.Equal(ExitReason.InvalidGuestState | ExitReason.EntryFailure, ExitReasonOf(bad));
    }

    /// <summary>
    /// Without the EFER load controls KVM keeps EFER across the transitions and sets LMA and LME
    /// (<c>nested_vmx_calc_efer</c> on entry, <c>load_vmcs12_host_state</c> on exit): L1's SCE and NXE survive a round
    /// trip, and "save IA32_EFER" stores L2's EFER, which has them too.
    /// </summary>
    [Fact]
    public void Without_the_efer_load_controls_l1s_efer_bits_survive_a_round_trip()
    {
        const ulong efer = MachineLayout.InitialEfer | 1 | (1ul << 11); // SCE, NXE
        var setup = Setup with
        {
            HostEfer = efer,
            ExtraVmwrites = [(VmcsField.VmExitControls, VmxCapabilities.ExitTrueMust1 | VmxCapabilities.ExitHostAddressSpaceSize | VmxCapabilities.ExitSaveEfer)],
        };
        var r = TestMachine.RunAgreeing(RoundTrip.Build(setup, a =>
        {
            a.mov(ecx, Msr.Efer);
            a.rdmsr();
            a.@out(0x84, eax);
            ReportExit(a);
        }, a => a.vmcall()));
        Assert.Equal(ExitReason.Vmcall, ExitReasonOf(r));
        Assert.Equal((uint)efer, r.Outputs.Single(o => o.Port == 0x84).Value);
        Assert.Equal(efer, r.Final.Vmx.Read(VmcsField.GuestIa32Efer));
    }

    /// <summary>
    /// 6.18's CET series added to the nested checks what it added to MOV to CR0/CR4 (8060b2bd2dd0): HOST_CR4.CET
    /// without HOST_CR0.WP is VMfail 8, GUEST_CR4.CET without GUEST_CR0.WP an entry failure with reason 33. On a host
    /// and guest with IBT (so CR4.CET is valid at all).
    /// </summary>
    [Theory]
    [InlineData(true, true, 0)]
    [InlineData(true, false, 8)]
    [InlineData(false, false, 33)]
    public void From_6_18_cr4_cet_without_cr0_wp_fails_the_nested_checks(bool host, bool withWp, int failure)
    {
        var withIbt = CpuidTable.Of(TestMachine.Table.Entries.Select(e => e.Function == 7 ? e.WithBit(CpuidRegister.Edx, 20, true) : e));
        var vm = new Vm(HostCpu.FromCpuid("test-skylake-ibt", withIbt), KernelProfile.Linux6_18);
        var cr0 = withWp ? MachineLayout.InitialCr0 : MachineLayout.InitialCr0 & ~MachineLayout.Cr0Wp;
        var setup = host
            ? Setup with { HostCr4 = Setup.HostCr4 | Cr4.Cet, ExtraVmwrites = [(VmcsField.HostCr0, cr0)] }
            : Setup with { GuestCr4 = Setup.GuestCr4 | Cr4.Cet, ExtraVmwrites = [(VmcsField.GuestCr0, cr0)] };
        var r = Runner.Run(Policy.Lazy, Machine.Boot(RoundTrip.Build(setup, ReportExit, a => a.vmcall()), KvmState.WithCpuid(vm, Policy.Lazy, withIbt)), TestMachine.DefaultSteps);
        var failed = r.Observations.OfType<RunObservation.VmFail>().SingleOrDefault();
        switch (failure)
        {
            case 0:
                Assert.Null(failed);
                Assert.Equal(ExitReason.Vmcall, ExitReasonOf(r));
                break;
            case 8:
                Assert.Equal(VmInstructionError.EntryInvalidHostState, failed?.Error);
                break;
            default:
                Assert.Equal(ExitReason.InvalidGuestState | ExitReason.EntryFailure, ExitReasonOf(r));
                break;
        }
    }

    /// <summary>
    /// From 6.13 the host-state bases are canonical against the widest address the host allows
    /// (<c>is_noncanonical_base_address</c>): with LA57 (Sapphire Rapids) a base canonical only for 57 bits passes on
    /// 6.18; 6.1 checks against the vCPU's 48 bits, and a host without LA57 against 48 whatever the kernel.
    /// </summary>
    [Theory]
    [InlineData("sapphire-rapids", KernelProfile.Linux6_18, true)]
    [InlineData("sapphire-rapids", KernelProfile.Linux6_1, false)]
    [InlineData("skylake-sp", KernelProfile.Linux6_18, false)]
    public void A_host_base_canonical_only_for_57_bits_passes_where_the_host_has_LA57_from_6_13(string hostName, KernelProfile profile, bool passes)
    {
        var host = HostPresets.All[hostName];
        var guest = CpuidTable.Of(host.Cpuid.Entries.Select(e => e.Function == 1 ? e.WithBit(CpuidRegister.Ecx, 27, false) : e));
        var vm = new Vm(host, profile, SupportedQuirks: KernelProfiles.SupportedQuirks(profile));
        var setup = Setup with { ExtraVmwrites = [(VmcsField.HostGsBase, 0x00FF_0000_0000_0000)] };
        var r = Runner.Run(Policy.Lazy, Machine.Boot(RoundTrip.Build(setup, ReportExit, a => a.vmcall()), KvmState.WithCpuid(vm, Policy.Lazy, guest)), TestMachine.DefaultSteps);
        var failed = r.Observations.OfType<RunObservation.VmFail>().SingleOrDefault();
        Assert.Equal(passes ? null : VmInstructionError.EntryInvalidHostState, failed?.Error);
        if (passes)
        {
            Assert.Equal(ExitReason.Vmcall, ExitReasonOf(r));
        }
    }

    [Fact]
    public void A_refused_exit_msr_is_a_vmx_abort()
    {
        var setup = Setup with { ExitMsrLoad = [new MsrEntry(0xC000_0101, 0)] };
        var r = TestMachine.RunAgreeing(RoundTrip.Build(setup, ReportExit, a => a.vmcall()));
        Assert.Equal(new StopReason.VmxAbort(4), r.Stop);
    }

    [Fact]
    public void Vmresume_after_an_exit_returns_to_l2_and_the_loop_repeats()
    {
        var r = TestMachine.RunAgreeing(Workloads.CpuidLoop(5), Workloads.StepBudget(5));
        Assert.Equal(5, r.Trace.Count(e => e is VcpuEvent.NestedVmExit) - 1);
        Assert.Equal(6, r.Trace.Count(e => e is VcpuEvent.NestedVmEntry));
        Assert.Equal(new PortOutput(1, RoundTrip.ExitReasonPort, ExitReason.Vmcall, 4), r.Outputs[0]);
    }
}
