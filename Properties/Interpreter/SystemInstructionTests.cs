using CpuidFunctional.Interpreter.Machine;
using CpuidFunctional.Interpreter.Vmx;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace CpuidFunctional.Properties.Interpreter;

public class SystemInstructionTests
{
    private const ulong Cr4WithOsxsavePke = MachineLayout.InitialCr4 | Cr4.OsXsave | Cr4.Pke;

    private static void SetCr4(Assembler a, ulong value)
    {
        a.mov(rax, (long)value);
        a.mov(cr4, rax);
    }

    [Fact]
    public void Cpuid_at_l1_is_emulated_by_l0_and_answers_from_the_table_with_the_dynamic_bits()
    {
        var r = TestMachine.RunAgreeing(TestMachine.L1(a =>
        {
            SetCr4(a, Cr4WithOsxsavePke);
            a.mov(eax, 1);
            a.xor(ecx, ecx);
            a.cpuid();
        }));
        Assert.Contains(new VcpuEvent.Cpuid(1, 0), r.Trace);
        var answer = Assert.IsType<Observation.CpuidResult>(((RunObservation.Kvm)r.Observations[^1]).Value);
        Assert.NotEqual(0u, answer.Ecx & (1u << 27)); // OSXSAVE follows CR4
        Assert.Equal((ulong)answer.Ecx, r.Final.Regs[Registers.Rcx]);
        Assert.Equal((ulong)answer.Edx, r.Final.Regs[Registers.Rdx]);
    }

    [Fact]
    public void Mov_to_cr4_at_l1_is_a_core_event_and_mov_from_cr4_reads_it_back()
    {
        var r = TestMachine.RunAgreeing(TestMachine.L1(a =>
        {
            SetCr4(a, Cr4WithOsxsavePke);
            a.mov(rbx, cr4);
        }));
        Assert.Contains(new VcpuEvent.MovToCr4(Cr4WithOsxsavePke), r.Trace);
        Assert.Equal(Cr4WithOsxsavePke, r.Final.Regs[Registers.Rbx]);
        Assert.Equal(Cr4WithOsxsavePke, r.Final.Cr4);
    }

    [Fact]
    public void Mov_to_cr4_with_a_bit_the_guest_lacks_faults_through_core()
    {
        var r = TestMachine.Run(TestMachine.L1(a => SetCr4(a, MachineLayout.InitialCr4 | Cr4.La57)));
        Assert.Contains(new RunObservation.Kvm(1, MachineLayout.LoadAddress + 10, new Observation.Fault(X86Exception.GP)), r.Observations);
        Assert.IsType<StopReason.UnhandledFault>(r.Stop);
    }

    [Fact]
    public void Clearing_cr4_pae_in_long_mode_faults_through_core_which_knows_the_mode_from_the_vmms_set_sregs()
    {
        var r = TestMachine.Run(TestMachine.L1(a => SetCr4(a, 0)));
        Assert.Equal(new StopReason.UnhandledFault(1, MachineLayout.LoadAddress + 10, X86Exception.GP), r.Stop);
        Assert.Contains(new RunObservation.Kvm(1, MachineLayout.LoadAddress + 10, new Observation.Fault(X86Exception.GP)), r.Observations);
    }

    [Fact]
    public void Pcide_turns_on_in_long_mode_when_the_guest_has_pcid()
    {
        var withPcid = CpuidTable.Of(TestMachine.Table.Entries.Select(e => e.Function == 1 ? e.WithBit(CpuidRegister.Ecx, 17, true) : e));
        var vm = new Vm(HostCpu.FromCpuid("test-skylake-pcid", withPcid), KernelProfile.Linux6_18); // KVM supports PCID only where the host has it
        var program = TestMachine.L1(a => SetCr4(a, MachineLayout.InitialCr4 | Cr4.Pcide));
        var r = Runner.Run(Policy.Lazy, Machine.Boot(program, KvmState.WithCpuid(vm, Policy.Lazy, withPcid)), TestMachine.DefaultSteps);
        Assert.IsType<StopReason.Halted>(r.Stop);
        Assert.Equal(MachineLayout.InitialCr4 | Cr4.Pcide, r.Final.Cr4);
    }

    /// <summary>
    /// 6.18's CET series: <c>kvm_set_cr0</c> refuses to clear WP while CR4.CET is set, and <c>kvm_set_cr4</c> to set
    /// CET while WP is clear. The interpreter keeps CR0, so it judges both with the CR0 its MOVs left. The host has IBT
    /// and the CET state components, so KVM supports CR4.CET there and the WP rule alone decides.
    /// </summary>
    [Fact]
    public void On_6_18_cr0_wp_and_cr4_cet_refuse_each_other()
    {
        var withIbt = CpuidTable.Of(TestMachine.Table.Entries.Select(e => e.Function == 7 ? e.WithBit(CpuidRegister.Edx, 20, true) : e));
        var vm = new Vm(HostCpu.FromCpuid("test-skylake-ibt", withIbt), KernelProfile.Linux6_18);
        RunResult Run(Action<Assembler> body) =>
            Runner.Run(Policy.Lazy, Machine.Boot(TestMachine.L1(body), KvmState.WithCpuid(vm, Policy.Lazy, withIbt)), TestMachine.DefaultSteps);
        void ClearWp(Assembler a)
        {
            a.mov(rax, cr0);
            a.and(eax, ~(int)MachineLayout.Cr0Wp);
            a.mov(cr0, rax);
        }

        var cetWithWp = Run(a => SetCr4(a, MachineLayout.InitialCr4 | Cr4.Cet));
        Assert.IsType<StopReason.Halted>(cetWithWp.Stop);
        Assert.Equal(MachineLayout.InitialCr4 | Cr4.Cet, cetWithWp.Final.Cr4);

        var clearWpUnderCet = Run(a =>
        {
            SetCr4(a, MachineLayout.InitialCr4 | Cr4.Cet);
            ClearWp(a);
        });
        var setCetWithoutWp = Run(a =>
        {
            ClearWp(a);
            SetCr4(a, MachineLayout.InitialCr4 | Cr4.Cet);
        });
        Assert.Equal(X86Exception.GP, Assert.IsType<StopReason.UnhandledFault>(clearWpUnderCet.Stop).Vector);
        Assert.Equal(X86Exception.GP, Assert.IsType<StopReason.UnhandledFault>(setCetWithoutWp.Stop).Vector);
        Assert.Equal(MachineLayout.InitialCr0, clearWpUnderCet.Final.Cr0);
        Assert.Equal(MachineLayout.InitialCr4, setCetWithoutWp.Final.Cr4);
    }

    [Fact]
    public void Xsetbv_and_xgetbv_need_cr4_osxsave()
    {
        var ud = TestMachine.Run(TestMachine.L1(a =>
        {
            a.xor(ecx, ecx);
            a.xgetbv();
        }));
        Assert.Equal(X86Exception.UD, Assert.IsType<StopReason.UnhandledFault>(ud.Stop).Vector);

        var r = TestMachine.RunAgreeing(TestMachine.L1(a =>
        {
            SetCr4(a, Cr4WithOsxsavePke);
            a.xor(ecx, ecx);
            a.mov(eax, 0x207);
            a.xor(edx, edx);
            a.xsetbv();
            a.xor(eax, eax);
            a.xgetbv();
        }));
        Assert.Contains(new VcpuEvent.Xsetbv(0, 0x207), r.Trace);
        Assert.Equal(0x207ul, r.Final.Regs[Registers.Rax]);
        Assert.Equal(0x207ul, r.Final.Kvm.Vcpu.Xcr0);
    }

    [Fact]
    public void Xsetbv_with_an_unsupported_component_faults_through_core()
    {
        var r = TestMachine.Run(TestMachine.L1(a =>
        {
            SetCr4(a, Cr4WithOsxsavePke);
            a.xor(ecx, ecx);
            a.mov(eax, 0x1F); // MPX is not in the table
            a.xor(edx, edx);
            a.xsetbv();
        }));
        Assert.Contains(r.Observations, o => o is RunObservation.Kvm { Value: Observation.Fault { Vector: X86Exception.GP } });
    }

    [Fact]
    public void Rdmsr_of_ia32_vmx_basic_gives_the_vmcs_revision_and_is_answered_by_the_interpreter()
    {
        var r = TestMachine.Run(TestMachine.L1(a =>
        {
            a.mov(ecx, 0x480);
            a.rdmsr();
        }));
        Assert.Equal((ulong)VmxCapabilities.Revision, r.Final.Regs[Registers.Rax]);
        Assert.Equal(VmxCapabilities.Basic >> 32, r.Final.Regs[Registers.Rdx]);
        Assert.DoesNotContain(r.Trace, e => e is VcpuEvent.Rdmsr);
    }

    [Fact]
    public void Wrmsr_and_rdmsr_of_xss_go_through_core()
    {
        var r = TestMachine.RunAgreeing(TestMachine.L1(a =>
        {
            a.mov(ecx, Msr.Xss);
            a.mov(eax, (uint)Xss.CetUser);
            a.xor(edx, edx);
            a.wrmsr();
            a.xor(eax, eax);
            a.rdmsr();
        }));
        Assert.Contains(new VcpuEvent.Wrmsr(Msr.Xss, Xss.CetUser), r.Trace);
        Assert.Contains(new VcpuEvent.Rdmsr(Msr.Xss), r.Trace);
        Assert.Equal(Xss.CetUser, r.Final.Regs[Registers.Rax]);
    }

    [Fact]
    public void Wrmsr_to_a_vmx_capability_msr_faults()
    {
        var r = TestMachine.Run(TestMachine.L1(a =>
        {
            a.mov(ecx, 0x480);
            a.wrmsr();
        }));
        Assert.Equal(X86Exception.GP, Assert.IsType<StopReason.UnhandledFault>(r.Stop).Vector);
    }

    [Fact]
    public void Out_reports_port_and_value_and_in_reads_all_ones()
    {
        var r = TestMachine.Run(TestMachine.L1(a =>
        {
            a.mov(eax, 0x1234_5678);
            a.@out(0x80, eax);
            a.mov(dx, 0x3F8);
            a.@out(dx, al);
            a.@in(ax, dx);
        }));
        Assert.Equal([new PortOutput(1, 0x80, 0x1234_5678, 4), new PortOutput(1, 0x3F8, 0x78, 1)], r.Outputs);
        Assert.Equal(0x1234_FFFFul, r.Final.Regs[Registers.Rax]);
    }

    [Fact]
    public void Hlt_at_l1_ends_the_run()
    {
        var r = TestMachine.Run(TestMachine.L1(_ => { }));
        Assert.Equal(new StopReason.Halted(MachineLayout.LoadAddress), r.Stop);
        Assert.Equal(1, r.Steps);
    }

    [Fact]
    public void Rdpkru_and_wrpkru_fault_without_cr4_pke_and_work_with_it()
    {
        var ud = TestMachine.Run(TestMachine.L1(a =>
        {
            a.xor(ecx, ecx);
            a.rdpkru();
        }));
        Assert.Equal(X86Exception.UD, Assert.IsType<StopReason.UnhandledFault>(ud.Stop).Vector);

        var r = TestMachine.Run(TestMachine.L1(a =>
        {
            SetCr4(a, Cr4WithOsxsavePke);
            a.xor(ecx, ecx);
            a.xor(edx, edx);
            a.mov(eax, 0xC);
            a.wrpkru();
            a.xor(eax, eax);
            a.rdpkru();
        }));
        Assert.Equal(0xCu, r.Final.Pkru);
        Assert.Equal(0xCul, r.Final.Regs[Registers.Rax]);
    }

    [Fact]
    public void The_first_run_starts_with_the_vmms_set_sregs_into_64_bit_mode_and_kvm_run()
    {
        var r = TestMachine.Run(TestMachine.L1(_ => { }));
        var sregs = new VcpuEvent.SetSregs(MachineLayout.InitialCr4, Msr.ApicBaseDefault) { Cr0 = MachineLayout.InitialCr0, Efer = MachineLayout.InitialEfer };
        Assert.Equal(sregs, r.Trace[0]);
        Assert.Equal(new VcpuEvent.Run(), r.Trace[1]);
        Assert.Equal(MachineLayout.InitialCr4, r.Final.Cr4);
        Assert.Equal(MachineLayout.InitialCr0, r.Final.Cr0);
        Assert.Equal(MachineLayout.InitialEfer, r.Final.Efer);
        Assert.Equal((MachineLayout.InitialCr0, MachineLayout.InitialEfer), (r.Final.Kvm.Vcpu.Cr0, r.Final.Kvm.Vcpu.Efer)); // Core knows the mode
    }
}
