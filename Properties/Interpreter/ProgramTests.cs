using CpuidFunctional.Core.Checking;
using CpuidFunctional.Interpreter.Decoding;
using CpuidFunctional.Interpreter.Machine;
using CpuidFunctional.Interpreter.Vmx;

namespace CpuidFunctional.Properties.Interpreter;

public class ProgramTests
{
    [Fact]
    public void L1_enabling_osxsave_and_pke_sees_them_in_cpuid_and_the_xsave_size_of_its_xcr0()
    {
        var r = TestMachine.RunAgreeing(Programs.L1OsxsavePkeXsetbv());
        Assert.Equal(new StopReason.Halted(r.Final.Regs.Rip), r.Stop);
        var outputs = r.Outputs.ToDictionary(o => o.Port, o => o.Value);
        Assert.NotEqual(0u, outputs[0x81] & (1u << 27)); // CPUID.1:ECX.OSXSAVE
        Assert.NotEqual(0u, outputs[0x87] & (1u << 4)); // CPUID.7.0:ECX.OSPKE
        Assert.Equal(0xA88u, outputs[0x8D]); // CPUID.0xD.0:EBX for x87|SSE|AVX|PKRU: end of PKRU at 0xA80 + 8
    }

    [Fact]
    public void Vmx_cr4_osxsave_l1_sees_its_own_osxsave_after_l2_cleared_its_copy()
    {
        var r = TestMachine.RunAgreeing(Programs.VmxCr4Osxsave());
        Assert.Equal(new PortOutput(1, RoundTrip.ExitReasonPort, ExitReason.Vmcall, 4), r.Outputs[0]);
        Assert.NotEqual(0u, r.Outputs[1].Value & (1u << 27));
        Assert.Contains(new VcpuEvent.MovToCr4(MachineLayout.InitialCr4 | Cr4.Vmxe), r.Trace);
    }

    [Fact]
    public void Vmx_cr4_osxsave_catches_an_eager_kvm_whose_vm_exit_cr4_load_does_not_trigger()
    {
        var program = Programs.VmxCr4Osxsave();
        var buggy = new Policy(UpdateScheme.Eager, WrongRules.VmExitCr4NotTrigger);
        var agreement = Runner.RunAll([Policy.Reference, buggy], p => TestMachine.Boot(program, p), TestMachine.DefaultSteps);
        Assert.False(agreement.Agree);
        Assert.Equal(0u, agreement.Runs[1].Result.Outputs[1].Value & (1u << 27));
        Assert.Contains("reference vs eager+VmExitCr4NotTrigger", agreement.FirstDifference, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("cpuid-loop")]
    [InlineData("kvm-like-l1")]
    [InlineData("l1-cpuid")]
    [InlineData("cr4-toggle")]
    public void Every_workload_behaves_the_same_under_eager_lazy_and_reference(string name)
    {
        const int roundTrips = 20;
        var program = Workloads.ByName(name, roundTrips)!;
        var r = TestMachine.RunAgreeing(program, Workloads.StepBudget(roundTrips));
        Assert.True(r.Stop is StopReason.Halted, TestMachine.Describe(r));
        Assert.Equal(ExitReason.Vmcall, r.Outputs[0].Value);
        Assert.Equal(roundTrips + 1, r.Trace.Count(e => e is VcpuEvent.NestedVmEntry));
    }

    [Theory]
    [InlineData("cpuid-loop", 2, 0)]
    [InlineData("l1-cpuid", 2, 1)]
    [InlineData("cr4-toggle", 3, 0)]
    public void Runtime_updates_per_round_trip_eager_versus_lazy(string name, int eagerPerRoundTrip, int lazyPerRoundTrip)
    {
        const int roundTrips = 10;
        var program = Workloads.ByName(name, roundTrips)!;
        // The set-up and the final L1 CPUID add a fixed amount; the difference over 10 more round trips is per round trip.
        var shorter = Workloads.ByName(name, roundTrips - 5)!;
        int Updates(Program p, Policy policy) =>
            TestMachine.Run(p, policy, Workloads.StepBudget(roundTrips)).Effort.RuntimeUpdates;
        Assert.Equal(5 * eagerPerRoundTrip, Updates(program, Policy.Eager) - Updates(shorter, Policy.Eager));
        Assert.Equal(5 * lazyPerRoundTrip, Updates(program, Policy.Lazy) - Updates(shorter, Policy.Lazy));
    }

    [Fact]
    public void Kvm_like_l1_switches_xcr0_and_xss_around_every_round_trip()
    {
        var r = TestMachine.RunAgreeing(Workloads.KvmLikeL1(3), Workloads.StepBudget(3), TestMachine.Vm6_15);
        // 4 exits (3 CPUID, 1 VMCALL) switch to L1's values, 3 resumes switch back; the set-up sets XCR0 once.
        Assert.Equal(1 + 4 + 3, r.Trace.Count(e => e is VcpuEvent.Xsetbv));
        Assert.Equal(4 + 3, r.Trace.Count(e => e is VcpuEvent.Wrmsr { Index: Msr.Xss }));
    }

    [Fact]
    public void The_same_program_gives_the_same_trace_every_time()
    {
        var program = Workloads.Cr4Toggle(5);
        var first = TestMachine.Run(program, Policy.Lazy, Workloads.StepBudget(5));
        var second = TestMachine.Run(program, Policy.Lazy, Workloads.StepBudget(5));
        Assert.True(first.SameBehaviour(second), first.FirstDifference(second));
        Assert.Equal(first.Trace, second.Trace);
        Assert.Equal(first.Effort, second.Effort);
    }

    [Fact]
    public void A_shared_decode_cache_decodes_each_address_once()
    {
        var program = Workloads.CpuidLoop(50);
        var cache = new DecodeCache();
        var boot = TestMachine.Boot(program, Policy.Lazy);
        var first = Runner.Run(Policy.Lazy, boot, Workloads.StepBudget(50), cache);
        var decodes = cache.Decodes;
        Assert.True(decodes < 150, $"{decodes} decodes for {first.Steps} steps");
        var again = Runner.Run(Policy.Lazy, boot, Workloads.StepBudget(50), cache);
        Assert.Equal(decodes, cache.Decodes);
        Assert.True(first.SameBehaviour(again));
    }

    [Fact]
    public void Writing_a_code_page_invalidates_its_decoded_instructions()
    {
        // The program overwrites its own "mov eax, 1" immediate with 2 and runs it again.
        var a = new Iced.Intel.Assembler(64);
        var target = a.CreateLabel();
        a.xor(ebx, ebx);
        a.Label(ref target);
        a.mov(Iced.Intel.AssemblerRegisters.eax, 1);
        a.@out(0x80, Iced.Intel.AssemblerRegisters.eax);
        a.inc(ebx);
        a.cmp(ebx, 2);
        var done = a.CreateLabel();
        a.je(done);
        a.lea(Iced.Intel.AssemblerRegisters.rdi, Iced.Intel.AssemblerRegisters.__[target]);
        a.mov(Iced.Intel.AssemblerRegisters.__byte_ptr[Iced.Intel.AssemblerRegisters.rdi + 1], 2);
        a.jmp(target);
        a.Label(ref done);
        a.hlt();
        var r = TestMachine.Run(RoundTrip.Assemble(a));
        Assert.Equal([1u, 2u], r.Outputs.Select(o => o.Value));
    }

    private static Iced.Intel.AssemblerRegister32 ebx => Iced.Intel.AssemblerRegisters.ebx;
}
