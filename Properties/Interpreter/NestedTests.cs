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
        ReportField(a, VmcsField.VmExitReason, 0x80);
        ReportField(a, VmcsField.ExitQualification, 0x82);
        a.hlt();
    }

    /// <summary>VMREAD of a field into EAX, out on a port. Clobbers RAX and RBX.</summary>
    private static void ReportField(Assembler a, uint field, byte port)
    {
        a.mov(ebx, field);
        a.vmread(rax, rbx);
        a.@out(port, eax);
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

    /// <summary>
    /// <c>nested_vmx_check_vmcs_link_ptr</c>: a link pointer other than all ones must be a page address whose region
    /// starts with the VMCS revision identifier (shadow bit clear); otherwise the entry fails with reason 33 and
    /// qualification 4 (ENTRY_FAIL_VMCS_LINK_PTR), where the other guest-state failures give 0.
    /// </summary>
    [Theory]
    [InlineData("all ones", ulong.MaxValue, true)]
    [InlineData("the VMXON region, which holds the revision identifier", RoundTrip.VmxonRegion, true)]
    [InlineData("a page without the revision identifier", RoundTrip.EntryMsrList, false)]
    [InlineData("a misaligned address", RoundTrip.VmxonRegion + 8, false)]
    [InlineData("a page above MAXPHYADDR", 1ul << 50, false)]
    public void The_vmcs_link_pointer_is_all_ones_or_a_region_with_the_revision_identifier(string what, ulong link, bool passes)
    {
        var r = RunL2(a => a.vmcall(), Setup with { ExtraVmwrites = [(VmcsField.VmcsLinkPointer, link)] });
        if (passes)
        {
            Assert.True(ExitReason.Vmcall == ExitReasonOf(r), what);
            return;
        }
        Assert.Equal(ExitReason.InvalidGuestState | ExitReason.EntryFailure, ExitReasonOf(r));
        Assert.Equal(Nested.EntryFailVmcsLinkPtr, r.Final.Vmx.Read(VmcsField.ExitQualification));
    }

    /// <summary>
    /// <c>nested_vmx_check_guest_state</c> checks the IA-32e mode guest's CR4.PAE after the link pointer, so a CR4
    /// without PAE and a bad link pointer fail with the link pointer's qualification 4.
    /// </summary>
    [Fact]
    public void A_guest_cr4_without_pae_is_checked_after_the_link_pointer()
    {
        var r = RunL2(a => a.vmcall(), Setup with { GuestCr4 = Setup.GuestCr4 & ~Cr4.Pae, ExtraVmwrites = [(VmcsField.VmcsLinkPointer, 0)] });
        Assert.Equal(ExitReason.InvalidGuestState | ExitReason.EntryFailure, ExitReasonOf(r));
        Assert.Equal(Nested.EntryFailVmcsLinkPtr, r.Final.Vmx.Read(VmcsField.ExitQualification));
        var alone = RunL2(a => a.vmcall(), Setup with { GuestCr4 = Setup.GuestCr4 & ~Cr4.Pae });
        Assert.Equal(Nested.EntryFailDefault, alone.Final.Vmx.Read(VmcsField.ExitQualification));
    }

    /// <summary>
    /// KVM never checks GUEST_RFLAGS itself; the processor does when KVM enters vmcs02, after the VM-entry MSR-load
    /// list: a reserved RFLAGS bit with a refused MSR entry is exit reason 34, with a good list 33.
    /// </summary>
    [Fact]
    public void Guest_rflags_is_checked_after_the_entry_msr_load_list()
    {
        const ulong badRflags = 0x2 | (1ul << 15); // bit 15 is reserved
        var refused = Setup with { EntryMsrLoad = [new MsrEntry(0xC000_0100, 0)], ExtraVmwrites = [(VmcsField.GuestRflags, badRflags)] }; // FS_BASE: refused in the list
        Assert.Equal(ExitReason.MsrLoading | ExitReason.EntryFailure, ExitReasonOf(RunL2(a => a.vmcall(), refused)));
        var r = RunL2(a => a.vmcall(), Setup with { ExtraVmwrites = [(VmcsField.GuestRflags, badRflags)] });
        Assert.Equal(ExitReason.InvalidGuestState | ExitReason.EntryFailure, ExitReasonOf(r));
        Assert.Contains(r.Trace, e => e is VcpuEvent.NestedVmEntry); // the entry (and its list) took effect first
    }

    /// <summary>
    /// GDTR and IDTR limits with bits 31:16 set pass KVM's checks (KVM copies them into vmcs02) and fail the
    /// processor's: exit reason 33, after the VM-entry (kvm-unit-tests' guest-state area test).
    /// </summary>
    [Theory]
    [InlineData(VmcsField.GuestGdtrLimit)]
    [InlineData(VmcsField.GuestIdtrLimit)]
    public void A_descriptor_table_limit_above_16_bits_fails_the_entry(uint field)
    {
        var r = RunL2(a => a.vmcall(), Setup with { ExtraVmwrites = [(field, 0x1_0000)] });
        Assert.Equal(ExitReason.InvalidGuestState | ExitReason.EntryFailure, ExitReasonOf(r));
        Assert.Equal(ExitReason.Vmcall, ExitReasonOf(RunL2(a => a.vmcall(), Setup with { ExtraVmwrites = [(field, 0xFFFF)] })));
    }

    /// <summary><c>prepare_vmcs02</c> loads GUEST_CR3 through <c>nested_vmx_load_cr3</c>: one above MAXPHYADDR fails the entry with reason 33, qualification 0.</summary>
    [Fact]
    public void A_guest_cr3_above_maxphyaddr_fails_the_entry()
    {
        var r = RunL2(a => a.vmcall(), Setup with { ExtraVmwrites = [(VmcsField.GuestCr3, 1ul << 50)] });
        Assert.Equal(ExitReason.InvalidGuestState | ExitReason.EntryFailure, ExitReasonOf(r));
        Assert.Equal(Nested.EntryFailDefault, r.Final.Vmx.Read(VmcsField.ExitQualification));
    }

    /// <summary>A guest-state failure checked before the link pointer (here GUEST_CR4 without VMXE) keeps qualification 0.</summary>
    [Fact]
    public void A_bad_guest_cr4_with_a_bad_link_pointer_fails_with_qualification_0()
    {
        var r = RunL2(a => a.vmcall(), Setup with { GuestCr4 = MachineLayout.InitialCr4, ExtraVmwrites = [(VmcsField.VmcsLinkPointer, 0)] });
        Assert.Equal(ExitReason.InvalidGuestState | ExitReason.EntryFailure, ExitReasonOf(r));
        Assert.Equal(Nested.EntryFailDefault, r.Final.Vmx.Read(VmcsField.ExitQualification));
    }

    /// <summary>
    /// <c>nested_host_cr0_valid</c> and <c>nested_guest_cr0_valid</c> check only the VMX fixed bits: CR0.NW without
    /// CR0.CD, a #GP for MOV to CR0, passes both (KVM keeps NW and CD out of the hardware's CR0); bits 63:32 do not.
    /// </summary>
    [Theory]
    [InlineData(VmcsField.HostCr0, MachineLayout.Cr0Nw, true)]
    [InlineData(VmcsField.GuestCr0, MachineLayout.Cr0Nw, true)]
    [InlineData(VmcsField.HostCr0, 1ul << 32, false)]
    [InlineData(VmcsField.GuestCr0, 1ul << 32, false)]
    public void Nested_cr0_checks_are_the_fixed_bits_only(uint field, ulong extraBit, bool passes)
    {
        var r = TestMachine.RunAgreeing(RoundTrip.Build(Setup with { ExtraVmwrites = [(field, MachineLayout.InitialCr0 | extraBit)] }, ReportExit, a => a.vmcall()));
        var failedWith = r.Observations.OfType<RunObservation.VmFail>().SingleOrDefault()?.Error;
        var entryFailed = r.Observations.OfType<RunObservation.VmEntryFailed>().Any();
        Assert.Equal(passes, failedWith is null && !entryFailed);
        if (passes)
        {
            Assert.Equal(ExitReason.Vmcall, ExitReasonOf(r));
        }
    }

    /// <summary>
    /// <c>nested_vmx_check_exit_msr_switch_controls</c> checks the VM-exit MSR-store list like the load lists (a
    /// misaligned address is VMfail 7); a valid list stops the run, since the model does not store MSRs at exits.
    /// </summary>
    [Fact]
    public void The_exit_msr_store_list_is_checked_then_refused_as_not_modelled()
    {
        var misaligned = TestMachine.RunAgreeing(RoundTrip.Build(
            Setup with { ExtraVmwrites = [(VmcsField.VmExitMsrStoreCount, 1), (VmcsField.VmExitMsrStoreAddr, RoundTrip.ExitMsrList + 8)] }, ReportExit, a => a.vmcall()));
        Assert.Equal(VmInstructionError.EntryInvalidControls, misaligned.Observations.OfType<RunObservation.VmFail>().Single().Error);

        var valid = TestMachine.Run(RoundTrip.Build(
            Setup with { ExtraVmwrites = [(VmcsField.VmExitMsrStoreCount, 1), (VmcsField.VmExitMsrStoreAddr, RoundTrip.ExitMsrList)] }, ReportExit, a => a.vmcall()));
        Assert.Equal(Nested.MsrStoreUnsupported, Assert.IsType<StopReason.Unsupported>(valid.Stop).Why);
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
        var program = RoundTrip.Build(setup, a =>
        {
            a.mov(ecx, Msr.Efer);
            a.rdmsr();
            a.@out(0x84, eax);
            ReportExit(a);
        }, a => a.vmcall());
        // Skylake-SP's own table as the guest's: it has NX, which EFER.NXE needs (__kvm_valid_efer).
        var host = HostPresets.SkylakeSp;
        var guest = CpuidTable.Of(host.Cpuid.Entries.Select(e => e.Function == 1 ? e.WithBit(CpuidRegister.Ecx, 27, false) : e));
        var r = Runner.Run(Policy.Lazy, Machine.Boot(program, KvmState.WithCpuid(new Vm(host), Policy.Lazy, guest)), TestMachine.DefaultSteps);
        Assert.Equal(ExitReason.Vmcall, ExitReasonOf(r));
        Assert.Equal((uint)efer, r.Outputs.Single(o => o.Port == 0x84).Value);
        Assert.Equal(efer, r.Final.Vmx.Read(VmcsField.GuestIa32Efer));
    }

    /// <summary>
    /// <c>kvm_valid_efer</c>: EFER.NXE needs NX on the host and in the guest's CPUID, EFER.FFXSR needs FXSR_OPT on both
    /// (only AMD has it). A WRMSR outside those is #GP; the same bits bound HOST_/GUEST_IA32_EFER at a nested entry.
    /// </summary>
    [Theory]
    [InlineData("skylake-sp", true, 1ul << 11, true)]
    [InlineData("skylake-sp", false, 1ul << 11, false)] // the guest's table without NX
    [InlineData("skylake-sp", true, 1ul << 14, false)]  // FFXSR: no FXSR_OPT on an Intel host
    [InlineData("genoa", true, 1ul << 14, true)]
    [InlineData("genoa", false, 1ul << 14, false)]      // the guest's table without FXSR_OPT
    public void A_guest_efer_write_needs_the_feature_of_each_bit_on_host_and_guest(string hostName, bool guestHasFeature, ulong bit, bool accepted)
    {
        var host = HostPresets.All[hostName];
        var feature = bit == 1ul << 11 ? CpuidFunctional.Core.Dynamic.GuestFeature.Nx : CpuidFunctional.Core.Dynamic.GuestFeature.FxsrOpt;
        var guest = CpuidTable.Of(host.Cpuid.Entries.Select(e =>
            e.Function == 0x8000_0001 && !guestHasFeature ? e.WithBit(feature.Register, feature.Bit, false)
            : e.Function == 1 ? e.WithBit(CpuidRegister.Ecx, 27, false) : e));
        var program = TestMachine.L1(a =>
        {
            a.mov(ecx, Msr.Efer);
            a.rdmsr();
            a.or(eax, (int)bit);
            a.wrmsr();
        });
        var r = Runner.Run(Policy.Lazy, Machine.Boot(program, KvmState.WithCpuid(new Vm(host), Policy.Lazy, guest)), TestMachine.DefaultSteps);
        Assert.Equal(accepted, r.Stop is StopReason.Halted);
        if (!accepted)
        {
            Assert.Equal(X86Exception.GP, Assert.IsType<StopReason.UnhandledFault>(r.Stop).Vector);
        }
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
    /// HOST_RIP is canonical for the paging L1 will have after the exit: from 6.13
    /// (<c>is_l1_noncanonical_address_on_vmexit</c>) 57 bits when HOST_CR4 has LA57, so a RIP canonical only for 57 bits
    /// passes on 6.18 and is VMfail 8 on 6.1 (the vCPU's 48 bits), and without HOST_CR4.LA57 on either.
    /// </summary>
    [Theory]
    [InlineData(KernelProfile.Linux6_18, true, 0x00FF_0000_0000_0000ul, true)]
    [InlineData(KernelProfile.Linux6_1, true, 0x00FF_0000_0000_0000ul, false)]
    [InlineData(KernelProfile.Linux6_1, true, 0x0000_7FFF_0000_0000ul, true)] // HOST_CR4.LA57 itself is fine on 6.1
    [InlineData(KernelProfile.Linux6_18, false, 0x00FF_0000_0000_0000ul, false)]
    public void Host_rip_is_canonical_for_the_hosts_cr4_la57_from_6_13(KernelProfile profile, bool hostLa57, ulong hostRip, bool passes)
    {
        var host = HostPresets.SapphireRapids;
        var guest = CpuidTable.Of(host.Cpuid.Entries.Select(e => e.Function == 1 ? e.WithBit(CpuidRegister.Ecx, 27, false) : e));
        // HOST_CR4 written alone: L1 itself keeps 4-level paging (a MOV to CR4 may not change LA57 in long mode).
        var hostCr4 = Setup.HostCr4 | (hostLa57 ? Cr4.La57 : 0);
        var setup = Setup with { ExtraVmwrites = [(VmcsField.HostCr4, hostCr4), (VmcsField.HostRip, hostRip)] };
        var r = Runner.Run(Policy.Lazy, Machine.Boot(RoundTrip.Build(setup, ReportExit, a => a.vmcall()), KvmState.WithCpuid(new Vm(host, profile), Policy.Lazy, guest)), TestMachine.DefaultSteps);
        var failed = r.Observations.OfType<RunObservation.VmFail>().SingleOrDefault();
        Assert.Equal(passes ? null : VmInstructionError.EntryInvalidHostState, failed?.Error);
        Assert.Equal(passes, r.Trace.Any(e => e is VcpuEvent.NestedVmEntry));
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
        var vm = new Vm(host, profile);
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

    /// <summary>
    /// Exit-handler prologue: VM_EXIT_INTR_ERROR_CODE out on port 0x84 and IDT_VECTORING_INFO on port 0x85, then L1
    /// writes 0x55 and 0x80000003 (a valid #BP vectoring record) into them. Clobbers RAX and RBX.
    /// </summary>
    internal static void EmitReportAndPlantExitInfo(Assembler a)
    {
        ReportField(a, VmcsField.VmExitIntrErrorCode, 0x84);
        ReportField(a, VmcsField.IdtVectoringInfoField, 0x85);
        RoundTrip.EmitVmwrite(a, VmcsField.VmExitIntrErrorCode, 0x55);
        RoundTrip.EmitVmwrite(a, VmcsField.IdtVectoringInfoField, 0x8000_0003);
    }

    /// <summary>The exit handler for the exit-information tests: report and plant, resume after CPUID, else report and halt.</summary>
    private static void ReportPlantAndResume(Assembler a)
    {
        var other = a.CreateLabel("other");
        EmitReportAndPlantExitInfo(a);
        RoundTrip.EmitAdvanceOnCpuidAndResume(a, other);
        a.Label(ref other);
        RoundTrip.EmitReportAndHalt(a);
    }

    private static uint[] Reported(RunResult r, ushort port) => [.. r.Outputs.Where(o => o.Port == port).Select(o => o.Value)];

    /// <summary>
    /// <c>prepare_vmcs12</c>: every exit (not an entry failure) rewrites IDT_VECTORING_INFO (0: the model delivers no
    /// event), while VM_EXIT_INTR_ERROR_CODE is written only for an exit that delivers an error code, so L1's 0x55
    /// survives the VMCALL exit.
    /// </summary>
    [Fact]
    public void An_exit_clears_idt_vectoring_info_and_keeps_the_error_code_l1_wrote()
    {
        var r = TestMachine.RunAgreeing(RoundTrip.Build(Setup, ReportPlantAndResume, a =>
        {
            a.cpuid();
            a.vmcall();
        }));
        Assert.True(r.Stop is StopReason.Halted, TestMachine.Describe(r));
        Assert.Equal([0u, 0x55u], Reported(r, 0x84));
        Assert.Equal([0u, 0u], Reported(r, 0x85));
    }

    /// <summary>A #GP exit delivers its error code (0), replacing the 0x55 L1 wrote after the CPUID exit.</summary>
    [Fact]
    public void A_gp_exit_writes_its_error_code()
    {
        var r = TestMachine.RunAgreeing(RoundTrip.Build(Setup with { ExceptionBitmap = 1u << 13 }, ReportPlantAndResume, a =>
        {
            a.cpuid();
            a.xor(eax, eax);
            a.mov(cr0, rax);
        }));
        Assert.True(r.Stop is StopReason.Halted, TestMachine.Describe(r));
        Assert.Equal(ExitReason.ExceptionOrNmi, r.Outputs.Single(o => o.Port == RoundTrip.ExitReasonPort).Value);
        Assert.Equal([0u, 0u], Reported(r, 0x84));
    }
}
