using CpuidFunctional.Interpreter.Machine;
using CpuidFunctional.Interpreter.Vmx;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace CpuidFunctional.Properties.Interpreter;

/// <summary>
/// VM entry remembers, within a run, the vmcs12 whose control and host-state checks passed last time; a VMWRITE
/// between two entries must still be checked. These programs enter successfully once, break one field in the exit
/// handler and VMRESUME.
/// </summary>
public class EntryCheckMemoTests
{
    private static readonly RoundTripSetup Setup = new();

    private static RunResult BreakFieldThenResume(uint field, ulong value) =>
        TestMachine.RunAgreeing(
            RoundTrip.Build(
                Setup,
                a =>
                {
                    RoundTrip.EmitVmwrite(a, field, value);
                    RoundTrip.EmitSkipInstructionAndResume(a);
                },
                a => a.cpuid()
            )
        );

    private static void AssertOneEntryThenVmFail(RunResult r, VmInstructionError expected)
    {
        Assert.True(r.Stop is StopReason.Halted, TestMachine.Describe(r));
        Assert.Single(r.Trace, e => e is VcpuEvent.NestedVmEntry);
        Assert.Equal(expected, Assert.IsType<RunObservation.VmFail>(r.Observations[^1]).Error);
    }

    [Fact]
    public void Vmresume_after_host_cr4_loses_vmxe_is_error_8_although_the_previous_entry_passed()
    {
        var r = BreakFieldThenResume(VmcsField.HostCr4, MachineLayout.InitialCr4);
        AssertOneEntryThenVmFail(r, VmInstructionError.EntryInvalidHostState);
    }

    [Fact]
    public void Vmresume_after_the_pin_controls_lose_their_default1_bits_is_error_7_although_the_previous_entry_passed()
    {
        var r = BreakFieldThenResume(VmcsField.PinBasedVmExecControl, 0);
        AssertOneEntryThenVmFail(r, VmInstructionError.EntryInvalidControls);
    }

    [Fact]
    public void Vmresume_after_an_exit_field_changes_passes_the_same_checks_again()
    {
        // GUEST_RIP is kept inline (not in the chunks): writing it keeps the remembered checks valid.
        var r = TestMachine.RunAgreeing(
            RoundTrip.Build(
                Setup,
                a =>
                {
                    a.mov(ebx, VmcsField.VmExitReason);
                    a.vmread(rax, rbx);
                    a.@out(0x80, eax);
                    a.inc(r15);
                    a.cmp(r15, 3);
                    var done = a.CreateLabel();
                    a.je(done);
                    RoundTrip.EmitSkipInstructionAndResume(a);
                    a.Label(ref done);
                    a.hlt();
                },
                a =>
                {
                    a.cpuid();
                    a.cpuid();
                    a.cpuid();
                }
            )
        );
        Assert.True(r.Stop is StopReason.Halted, TestMachine.Describe(r));
        Assert.Equal(3, r.Trace.Count(e => e is VcpuEvent.NestedVmEntry));
        Assert.DoesNotContain(r.Observations, o => o is RunObservation.VmFail);
    }
}
