using CpuidFunctional.Interpreter.Machine;
using CpuidFunctional.Interpreter.Vmx;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace CpuidFunctional.Properties.Interpreter;

public class VmxInstructionTests
{
    private const ulong Slot = RoundTrip.PointerSlot;

    /// <summary>CR4.VMXE on, the revision id in the VMXON region and the VMCS, VMXON.</summary>
    internal static void VmxOn(Assembler a)
    {
        a.mov(rax, (long)(MachineLayout.InitialCr4 | Cr4.Vmxe));
        a.mov(cr4, rax);
        a.mov(ecx, 0x480);
        a.rdmsr();
        a.mov(rdi, (long)RoundTrip.VmxonRegion);
        a.mov(__dword_ptr[rdi], eax);
        a.mov(rdi, (long)RoundTrip.VmcsRegion);
        a.mov(__dword_ptr[rdi], eax);
        Pointer(a, RoundTrip.VmxonRegion);
        a.vmxon(__qword_ptr[rdi]);
    }

    /// <summary>RDI = the pointer slot, holding <paramref name="value"/>.</summary>
    private static void Pointer(Assembler a, ulong value)
    {
        a.mov(rdi, (long)Slot);
        a.mov(rax, (long)value);
        a.mov(__qword_ptr[rdi], rax);
    }

    private static void LoadVmcs(Assembler a)
    {
        Pointer(a, RoundTrip.VmcsRegion);
        a.vmclear(__qword_ptr[rdi]);
        a.vmptrld(__qword_ptr[rdi]);
    }

    private static RunResult Run(Action<Assembler> body) => TestMachine.RunAgreeing(TestMachine.L1(body));

    private static RunObservation.VmFail LastVmFail(RunResult r) =>
        Assert.IsType<RunObservation.VmFail>(r.Observations[^1]);

    [Fact]
    public void Vmxon_without_cr4_vmxe_is_ud()
    {
        var r = TestMachine.Run(TestMachine.L1(a =>
        {
            Pointer(a, RoundTrip.VmxonRegion);
            a.vmxon(__qword_ptr[rdi]);
        }));
        Assert.Equal(X86Exception.UD, Assert.IsType<StopReason.UnhandledFault>(r.Stop).Vector);
    }

    [Fact]
    public void Vmx_instructions_outside_vmx_operation_are_ud()
    {
        var r = TestMachine.Run(TestMachine.L1(a => a.vmlaunch()));
        Assert.Equal(X86Exception.UD, Assert.IsType<StopReason.UnhandledFault>(r.Stop).Vector);
    }

    [Fact]
    public void Vmxon_succeeds_with_flags_clear_and_enters_vmx_operation()
    {
        var r = Run(VmxOn);
        Assert.True(r.Final.Vmx.On);
        Assert.Equal(RoundTrip.VmxonRegion, r.Final.Vmx.VmxonPointer);
        Assert.Equal(0ul, r.Final.Regs.Rflags & Rflags.Arithmetic);
    }

    [Fact]
    public void Vmxon_with_a_misaligned_region_is_vmfail_invalid()
    {
        var r = Run(a =>
        {
            a.mov(rax, (long)(MachineLayout.InitialCr4 | Cr4.Vmxe));
            a.mov(cr4, rax);
            Pointer(a, RoundTrip.VmxonRegion + 8);
            a.vmxon(__qword_ptr[rdi]);
        });
        Assert.Null(LastVmFail(r).Error);
        Assert.Equal(Rflags.CF, r.Final.Regs.Rflags & Rflags.Arithmetic);
        Assert.False(r.Final.Vmx.On);
    }

    [Fact]
    public void Vmxon_without_the_revision_identifier_is_vmfail_invalid()
    {
        var r = Run(a =>
        {
            a.mov(rax, (long)(MachineLayout.InitialCr4 | Cr4.Vmxe));
            a.mov(cr4, rax);
            Pointer(a, RoundTrip.VmxonRegion);
            a.vmxon(__qword_ptr[rdi]);
        });
        Assert.Null(LastVmFail(r).Error);
    }

    [Fact]
    public void Vmxon_in_vmx_root_operation_is_error_15()
    {
        var r = Run(a =>
        {
            VmxOn(a);
            LoadVmcs(a);
            Pointer(a, RoundTrip.VmxonRegion);
            a.vmxon(__qword_ptr[rdi]);
        });
        Assert.Equal(VmInstructionError.VmxonInRoot, LastVmFail(r).Error);
        Assert.Equal(Rflags.ZF, r.Final.Regs.Rflags & Rflags.Arithmetic);
        Assert.Equal(15ul, r.Final.Vmx.Read(VmcsField.VmInstructionError));
    }

    [Fact]
    public void Vmclear_with_an_invalid_address_is_error_2()
    {
        var r = Run(a =>
        {
            VmxOn(a);
            LoadVmcs(a);
            Pointer(a, RoundTrip.VmcsRegion + 0x10);
            a.vmclear(__qword_ptr[rdi]);
        });
        Assert.Equal(VmInstructionError.VmclearInvalidAddress, LastVmFail(r).Error);
    }

    [Fact]
    public void Vmclear_with_the_vmxon_pointer_is_error_3()
    {
        var r = Run(a =>
        {
            VmxOn(a);
            LoadVmcs(a);
            Pointer(a, RoundTrip.VmxonRegion);
            a.vmclear(__qword_ptr[rdi]);
        });
        Assert.Equal(VmInstructionError.VmclearVmxonPointer, LastVmFail(r).Error);
    }

    [Fact]
    public void A_vmfail_without_a_current_vmcs_is_vmfail_invalid()
    {
        var r = Run(a =>
        {
            VmxOn(a);
            Pointer(a, RoundTrip.VmxonRegion);
            a.vmclear(__qword_ptr[rdi]);
        });
        Assert.Null(LastVmFail(r).Error);
    }

    [Fact]
    public void Vmptrld_errors_9_10_and_11()
    {
        var misaligned = Run(a =>
        {
            VmxOn(a);
            Pointer(a, RoundTrip.VmcsRegion);
            a.vmptrld(__qword_ptr[rdi]);
            Pointer(a, RoundTrip.VmcsRegion + 4);
            a.vmptrld(__qword_ptr[rdi]);
        });
        Assert.Equal(VmInstructionError.VmptrldInvalidAddress, LastVmFail(misaligned).Error);
        var vmxon = Run(a =>
        {
            VmxOn(a);
            LoadVmcs(a);
            Pointer(a, RoundTrip.VmxonRegion);
            a.vmptrld(__qword_ptr[rdi]);
        });
        Assert.Equal(VmInstructionError.VmptrldVmxonPointer, LastVmFail(vmxon).Error);
        var revision = Run(a =>
        {
            VmxOn(a);
            LoadVmcs(a);
            Pointer(a, RoundTrip.VmcsRegion + 0x1000);
            a.vmptrld(__qword_ptr[rdi]);
        });
        Assert.Equal(VmInstructionError.VmptrldIncorrectRevision, LastVmFail(revision).Error);
    }

    [Fact]
    public void Vmptrst_stores_the_current_vmcs_pointer()
    {
        var r = Run(a =>
        {
            VmxOn(a);
            LoadVmcs(a);
            a.mov(rsi, 0x8000);
            a.vmptrst(__qword_ptr[rsi]);
        });
        Assert.Equal(RoundTrip.VmcsRegion, r.Final.Memory.Read(0x8000, 8));
    }

    [Fact]
    public void Vmwrite_then_vmread_round_trips_and_truncates_to_the_field_width()
    {
        var r = Run(a =>
        {
            VmxOn(a);
            LoadVmcs(a);
            a.mov(ebx, VmcsField.GuestCsSelector);
            a.mov(rax, 0x12345);
            a.vmwrite(rbx, rax);
            a.vmread(rcx, rbx);
            a.mov(ebx, VmcsField.GuestRip);
            a.mov(rax, 0x1_2345_6789);
            a.vmwrite(rbx, rax);
            a.vmread(rdx, rbx);
        });
        Assert.Equal(0x2345ul, r.Final.Regs[Registers.Rcx]);
        Assert.Equal(0x1_2345_6789ul, r.Final.Regs[Registers.Rdx]);
        Assert.Equal(0ul, r.Final.Regs.Rflags & Rflags.Arithmetic);
    }

    /// <summary><c>handle_vmwrite</c> keeps only bits 0x1F0FF of a guest segment's access rights, as some Intel CPUs do.</summary>
    [Fact]
    public void Vmwrite_of_a_segment_access_rights_field_drops_its_reserved_bits()
    {
        var r = Run(a =>
        {
            VmxOn(a);
            LoadVmcs(a);
            RoundTrip.EmitVmwrite(a, VmcsField.GuestTrArBytes, 0xFFFF_FFFF);
            a.vmread(rcx, rbx);
            RoundTrip.EmitVmwrite(a, VmcsField.GuestInterruptibilityInfo, 0xFFFF_FFFF);
            a.vmread(rdx, rbx);
        });
        Assert.Equal(0x1F0FFul, r.Final.Regs[Registers.Rcx]);
        Assert.Equal(0xFFFF_FFFFul, r.Final.Regs[Registers.Rdx]); // another 32-bit guest field keeps every bit
    }

    /// <summary>
    /// <c>handle_vmptrld</c> reads the region's revision identifier only when the pointer is not already current, so
    /// VMPTRLD of the current VMCS succeeds even after L1 overwrote the identifier in memory.
    /// </summary>
    [Fact]
    public void Vmptrld_of_the_current_vmcs_does_not_read_the_region_again()
    {
        var r = Run(a =>
        {
            VmxOn(a);
            LoadVmcs(a);
            a.mov(rsi, (long)RoundTrip.VmcsRegion);
            a.mov(__dword_ptr[rsi], 0);
            a.vmptrld(__qword_ptr[rdi]);
            a.pushfq();
            a.pop(rax);
            a.@out(0x84, eax);
            Pointer(a, RoundTrip.VmcsRegion + 0x1000); // another page: its identifier is read, and it is 0
            a.mov(rsi, (long)(RoundTrip.VmcsRegion + 0x1000));
            a.mov(__dword_ptr[rsi], 0);
            a.vmptrld(__qword_ptr[rdi]);
        });
        Assert.Equal(0u, r.Outputs.Single(o => o.Port == 0x84).Value & (uint)Rflags.Arithmetic);
        Assert.Equal(VmInstructionError.VmptrldIncorrectRevision, LastVmFail(r).Error);
    }

    [Fact]
    public void Vmread_of_an_unsupported_field_is_error_12()
    {
        var r = Run(a =>
        {
            VmxOn(a);
            LoadVmcs(a);
            a.mov(ebx, 0x6402); // I/O RCX: an SDM field KVM's vmcs12 does not have
            a.vmread(rax, rbx);
            a.mov(ebx, 0x600E); // CR3-target value 3: dropped from vmcs12 (dead space)
            a.vmread(rcx, rbx);
            a.pushfq();
            a.pop(rax);
            a.@out(0x84, eax);
        });
        Assert.Equal(Rflags.ZF, r.Outputs.Single(o => o.Port == 0x84).Value & (uint)Rflags.Arithmetic); // VMfailValid again
        Assert.Equal(VmInstructionError.UnsupportedComponent, LastVmFail(r).Error);
        Assert.Equal(12ul, r.Final.Vmx.Read(VmcsField.VmInstructionError));
    }

    /// <summary>
    /// KVM lets L1 read and write every field of its vmcs12 whether or not the feature behind it is offered
    /// (<c>vmcs12_field_offsets</c>, <c>nested_vmx_calc_vmcs_enum_msr</c>): the I/O and MSR bitmap addresses, the
    /// MSR-store list, secondary controls, EPT pointer, VPID, PDPTEs, the VMX instruction information...
    /// </summary>
    [Theory]
    [InlineData(VmcsField.VirtualProcessorId)]
    [InlineData(VmcsField.GuestPmlIndex)]
    [InlineData(VmcsField.MsrBitmap)]
    [InlineData(VmcsField.VmExitMsrStoreAddr)]
    [InlineData(VmcsField.EptPointer)]
    [InlineData(VmcsField.TscMultiplier)]
    [InlineData(VmcsField.GuestPhysicalAddress)]
    [InlineData(VmcsField.GuestPdptr3)]
    [InlineData(VmcsField.HostIa32PerfGlobalCtrl)]
    [InlineData(VmcsField.SecondaryVmExecControl)]
    [InlineData(VmcsField.VmxInstructionInfo)]
    [InlineData(VmcsField.VmxPreemptionTimerValue)]
    public void Every_vmcs12_field_of_kvm_takes_vmwrite_and_vmread(uint field)
    {
        var r = Run(a =>
        {
            VmxOn(a);
            LoadVmcs(a);
            RoundTrip.EmitVmwrite(a, field, 0x5A5A);
            a.vmread(rcx, rbx);
        });
        Assert.DoesNotContain(r.Observations, o => o is RunObservation.VmFail);
        Assert.Equal(0x5A5Aul, r.Final.Regs[Registers.Rcx]);
    }

    /// <summary>The CET state fields joined vmcs12 with 6.18's CET series: before, VMREAD of GUEST_SSP is error 12.</summary>
    [Fact]
    public void The_cet_state_fields_exist_from_6_18()
    {
        static RunResult On(Vm vm) => TestMachine.RunAgreeing(TestMachine.L1(a =>
        {
            VmxOn(a);
            LoadVmcs(a);
            RoundTrip.EmitVmwrite(a, VmcsField.GuestSsp, 0x1000);
            a.vmread(rcx, rbx);
        }), vm: vm);
        Assert.Empty(On(TestMachine.Vm).Observations.OfType<RunObservation.VmFail>());
        Assert.Equal(0x1000ul, On(TestMachine.Vm).Final.Regs[Registers.Rcx]);
        Assert.Equal(VmInstructionError.UnsupportedComponent, LastVmFail(On(TestMachine.Vm6_15)).Error);
    }

    /// <summary>IA32_VMX_VMCS_ENUM reports the highest vmcs12 field index, TSC_MULTIPLIER's 0x19, in bits 9:1.</summary>
    [Fact]
    public void Ia32_vmx_vmcs_enum_reports_the_highest_vmcs12_field_index()
    {
        var highest = VmcsField.All.Max(f => (f >> 1) & 0x1FF);
        Assert.Equal(0x19u, highest);
        Assert.Equal((ulong)highest << 1, VmxCapabilities.ReadMsr(VmxCapabilities.MsrVmxVmcsEnum));
    }

    /// <summary>
    /// KVM's IA32_VMX_MISC has bit 29, VMWRITE to any supported field, so <c>handle_vmwrite</c> lets L1 write the
    /// "read-only" VM-exit information fields (no error 13).
    /// </summary>
    [Fact]
    public void Vmwrite_to_a_vm_exit_information_field_succeeds_as_ia32_vmx_misc_bit_29_says()
    {
        var r = Run(a =>
        {
            a.mov(ecx, VmxCapabilities.MsrVmxMisc);
            a.rdmsr();
            a.mov(esi, eax);
            VmxOn(a);
            LoadVmcs(a);
            a.mov(ebx, VmcsField.VmExitReason);
            a.mov(eax, 0x1234);
            a.vmwrite(rbx, rax);
            a.vmread(rcx, rbx);
        });
        Assert.NotEqual(0ul, r.Final.Regs[Registers.Rsi] & VmxCapabilities.MiscVmwriteAnyField);
        Assert.DoesNotContain(r.Observations, o => o is RunObservation.VmFail);
        Assert.Equal(0x1234ul, r.Final.Regs[Registers.Rcx]);
    }

    /// <summary>
    /// KVM answers every VMX capability MSR from 0x480 to 0x491 (<c>vmx_get_vmx_msr</c>): the ones for features the
    /// model does not offer (secondary controls, EPT/VPID, VM functions) read 0 rather than #GP.
    /// </summary>
    [Theory]
    [InlineData(0x48Bu)]
    [InlineData(0x48Cu)]
    [InlineData(0x491u)]
    public void The_vmx_capability_msrs_of_features_the_model_lacks_read_zero(uint msr)
    {
        var r = Run(a =>
        {
            a.mov(rax, -1L);
            a.mov(rdx, -1L);
            a.mov(ecx, msr);
            a.rdmsr();
        });
        Assert.IsType<StopReason.Halted>(r.Stop);
        Assert.Equal((0ul, 0ul), (r.Final.Regs[Registers.Rax], r.Final.Regs[Registers.Rdx]));
    }

    /// <summary>IA32_VMX_MISC as KVM builds it for L1 (<c>nested_vmx_setup_misc_data</c>).</summary>
    [Fact]
    public void Ia32_vmx_misc_has_kvms_bits_and_no_cr3_targets()
    {
        var r = Run(a =>
        {
            a.mov(ecx, VmxCapabilities.MsrVmxMisc);
            a.rdmsr();
        });
        const ulong kvm = 5ul | (1ul << 5) | (1ul << 6) | (1ul << 8) | (1ul << 29); // timer rate, EFER.LMA, HLT, WAIT_SIPI, VMWRITE any
        Assert.Equal(kvm, r.Final.Regs[Registers.Rax]);
        Assert.Equal(0ul, r.Final.Regs[Registers.Rdx]);
    }

    [Fact]
    public void Vmread_without_a_current_vmcs_is_vmfail_invalid()
    {
        var r = Run(a =>
        {
            VmxOn(a);
            a.mov(ebx, VmcsField.GuestRip);
            a.vmread(rax, rbx);
        });
        Assert.Null(LastVmFail(r).Error);
    }

    [Fact]
    public void Vmresume_of_a_clear_vmcs_is_error_5()
    {
        var r = Run(a =>
        {
            VmxOn(a);
            LoadVmcs(a);
            a.vmresume();
        });
        Assert.Equal(VmInstructionError.VmresumeNonLaunched, LastVmFail(r).Error);
    }

    [Fact]
    public void Vmlaunch_with_invalid_controls_is_error_7()
    {
        var r = Run(a =>
        {
            VmxOn(a);
            LoadVmcs(a);
            a.vmlaunch(); // every control field is still 0: the default-1 bits are missing
        });
        Assert.Equal(VmInstructionError.EntryInvalidControls, LastVmFail(r).Error);
    }

    [Fact]
    public void Vmlaunch_with_invalid_host_state_is_error_8()
    {
        var r = Run(a =>
        {
            VmxOn(a);
            LoadVmcs(a);
            RoundTrip.EmitVmwrite(a, VmcsField.PinBasedVmExecControl, VmxCapabilities.PinMust1);
            RoundTrip.EmitVmwrite(a, VmcsField.CpuBasedVmExecControl, VmxCapabilities.ProcTrueMust1);
            RoundTrip.EmitVmwrite(a, VmcsField.VmExitControls, VmxCapabilities.ExitTrueMust1 | VmxCapabilities.ExitHostAddressSpaceSize);
            RoundTrip.EmitVmwrite(a, VmcsField.VmEntryControls, VmxCapabilities.EntryTrueMust1 | VmxCapabilities.EntryIa32eModeGuest);
            RoundTrip.EmitVmwrite(a, VmcsField.HostCr0, MachineLayout.InitialCr0);
            RoundTrip.EmitVmwrite(a, VmcsField.HostCr4, MachineLayout.InitialCr4); // VMXE missing
            a.vmlaunch();
        });
        Assert.Equal(VmInstructionError.EntryInvalidHostState, LastVmFail(r).Error);
    }

    [Fact]
    public void Vmlaunch_of_a_launched_vmcs_is_error_4()
    {
        var program = RoundTrip.Build(
            new RoundTripSetup(),
            a =>
            {
                a.mov(ebx, VmcsField.GuestRip);
                a.vmread(rax, rbx);
                a.vmlaunch();
                a.hlt();
            },
            a => a.vmcall()
        );
        var r = TestMachine.RunAgreeing(program);
        Assert.Equal(VmInstructionError.VmlaunchNonClear, LastVmFail(r).Error);
    }

    /// <summary>
    /// L1 is KVM's guest: its VMCALL always exits to L0, which runs it as a hypercall (<c>kvm_emulate_hypercall</c>),
    /// in VMX operation or not, never VMfail 1. RAX: 0 for KVM_HC_VAPIC_POLL_IRQ, −KVM_ENOSYS (−1000) for an unknown
    /// number; the instruction is skipped and the flags kept.
    /// </summary>
    [Theory]
    [InlineData(true, 1ul, 0ul)]
    [InlineData(true, 0x1234ul, unchecked(0ul - 1000))]
    [InlineData(false, 0x1234ul, unchecked(0ul - 1000))]
    public void Vmcall_at_l1_is_a_kvm_hypercall_in_vmx_operation_or_not(bool inVmx, ulong nr, ulong expected)
    {
        var r = Run(a =>
        {
            if (inVmx)
            {
                VmxOn(a);
                LoadVmcs(a);
            }
            a.mov(rax, (long)nr);
            a.vmcall();
            a.mov(rbx, rax);
        });
        Assert.IsType<StopReason.Halted>(r.Stop);
        Assert.DoesNotContain(r.Observations, o => o is RunObservation.VmFail);
        Assert.Equal(expected, r.Final.Regs[Registers.Rbx]);
    }

    [Fact]
    public void Vmxoff_leaves_vmx_operation_and_then_cr4_vmxe_may_be_cleared()
    {
        var r = Run(a =>
        {
            VmxOn(a);
            a.vmxoff();
            a.mov(rax, (long)MachineLayout.InitialCr4);
            a.mov(cr4, rax);
        });
        Assert.False(r.Final.Vmx.On);
        Assert.Equal(MachineLayout.InitialCr4, r.Final.Cr4);
    }

    /// <summary>
    /// VMXON, a VMCS made current and GUEST_RIP written as 0x1234, (VMCLEAR,) VMXOFF; then VMXON again, the same VMCS
    /// made current, GUEST_RIP read and sent out on port 0x84, HLT.
    /// </summary>
    internal static CpuidFunctional.Interpreter.Machine.Program VmxoffThenReload(bool clearFirst) =>
        TestMachine.L1(a =>
        {
            VmxOn(a);
            LoadVmcs(a);
            RoundTrip.EmitVmwrite(a, VmcsField.GuestRip, 0x1234);
            if (clearFirst)
            {
                Pointer(a, RoundTrip.VmcsRegion);
                a.vmclear(__qword_ptr[rdi]);
            }
            a.vmxoff();
            VmxOn(a);
            Pointer(a, RoundTrip.VmcsRegion);
            a.vmptrld(__qword_ptr[rdi]);
            a.mov(ebx, VmcsField.GuestRip);
            a.vmread(rax, rbx);
            a.@out(0x84, eax);
        });

    /// <summary>
    /// <c>free_nested</c> frees KVM's cached vmcs12 without <c>nested_release_vmcs12</c>: what L1 wrote since VMPTRLD
    /// never reaches the VMCS region, so loading it again after VMXOFF reads the region as VMCLEAR last wrote it.
    /// </summary>
    [Fact]
    public void Vmxoff_without_vmclear_loses_the_vmwrites_made_since_vmptrld()
    {
        var r = TestMachine.RunAgreeing(VmxoffThenReload(clearFirst: false));
        Assert.True(r.Stop is StopReason.Halted, TestMachine.Describe(r));
        Assert.Equal(0u, r.Outputs.Single(o => o.Port == 0x84).Value);
        Assert.Equal(RoundTrip.VmcsRegion, r.Final.Vmx.CurrentPointer);
    }

    /// <summary>VMCLEAR writes the cached vmcs12 back (<c>nested_release_vmcs12</c>), so after it VMXOFF loses nothing.</summary>
    [Fact]
    public void Vmxoff_after_vmclear_keeps_what_l1_wrote()
    {
        var r = TestMachine.RunAgreeing(VmxoffThenReload(clearFirst: true));
        Assert.True(r.Stop is StopReason.Halted, TestMachine.Describe(r));
        Assert.Equal(0x1234u, r.Outputs.Single(o => o.Port == 0x84).Value);
    }

    /// <summary>
    /// A machine resumed at CPL 3 with CR4.VMXE, inside or outside VMX operation (the interpreter has no instruction
    /// that leaves CPL 0, so a library user builds the state): <c>nested_vmx_check_permission</c> and
    /// <c>handle_vmxon</c> inject #GP.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Vmx_instructions_above_cpl_0_are_gp(bool inVmxOperation)
    {
        var program = TestMachine.L1(a =>
        {
            Pointer(a, RoundTrip.VmxonRegion);
            if (inVmxOperation)
            {
                a.vmptrst(__qword_ptr[rdi]);
            }
            else
            {
                a.vmxon(__qword_ptr[rdi]);
            }
        });
        var kvm = KvmState.WithCpuid(TestMachine.Vm, Policy.Lazy, TestMachine.Table);
        foreach (var e in new VcpuEvent[] { new VcpuEvent.SetSregs(MachineLayout.InitialCr4 | Cr4.Vmxe, kvm.Vcpu.ApicBase) { Cr0 = MachineLayout.InitialCr0, Efer = MachineLayout.InitialEfer }, new VcpuEvent.Run(), new VcpuEvent.SetCpl(3) })
        {
            kvm = Kvm.Step(Policy.Lazy, kvm, e).State;
        }
        var machine = Machine.Boot(program, kvm) with { Started = true, Vmx = inVmxOperation ? VmxState.Off with { On = true, VmxonPointer = RoundTrip.VmxonRegion } : VmxState.Off };
        var r = Runner.Run(Policy.Lazy, machine, TestMachine.DefaultSteps);
        Assert.Equal(X86Exception.GP, Assert.IsType<StopReason.UnhandledFault>(r.Stop).Vector);
    }

    [Fact]
    public void Clearing_cr4_vmxe_in_vmx_operation_faults()
    {
        var r = TestMachine.Run(TestMachine.L1(a =>
        {
            VmxOn(a);
            a.mov(rax, (long)MachineLayout.InitialCr4);
            a.mov(cr4, rax);
        }));
        Assert.Equal(X86Exception.GP, Assert.IsType<StopReason.UnhandledFault>(r.Stop).Vector);
    }
}
