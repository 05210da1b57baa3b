using CpuidFunctional.Core.Checking;
using CpuidFunctional.Interpreter.Machine;
using CpuidFunctional.Interpreter.Vmx;

namespace CpuidFunctional.Properties.Interpreter;

/// <summary>
/// The vmx_cr4_osxsave variant in which only the nested loads change CR4 (<see cref="Programs.VmxCr4OsxsaveByEntry"/>):
/// what it shows under the correct policies and which wrong variant it catches.
/// </summary>
public class VmxCr4OsxsaveEntryTests
{
    private const uint OsXsave = 1u << 27;

    [Fact]
    public void L1_sees_its_own_osxsave_after_an_L2_that_wrote_no_CR4()
    {
        var r = TestMachine.RunAgreeing(Programs.VmxCr4OsxsaveByEntry());

        Assert.Equal(new PortOutput(1, RoundTrip.ExitReasonPort, ExitReason.Vmcall, 4), r.Outputs[0]);
        Assert.NotEqual(0u, r.Outputs[1].Value & OsXsave);
        // The only CR4 writes are L1's set-up and the two nested loads.
        Assert.Single(r.Trace.OfType<VcpuEvent.MovToCr4>());
        Assert.Contains(new VcpuEvent.NestedVmEntry(MachineLayout.InitialCr4 | Cr4.Vmxe), r.Trace);
    }

    [Fact]
    public void It_catches_an_eager_kvm_whose_vm_exit_cr4_load_does_not_trigger()
    {
        var buggy = new Policy(UpdateScheme.Eager, WrongRules.VmExitCr4NotTrigger);

        var agreement = Runner.RunAll([Policy.Reference, buggy], p => TestMachine.Boot(Programs.VmxCr4OsxsaveByEntry(), p), TestMachine.DefaultSteps);

        Assert.False(agreement.Agree);
        Assert.Equal(0u, agreement.Runs[1].Result.Outputs[1].Value & OsXsave);
    }

    [Theory]
    [InlineData(nameof(WrongRules.VmExitCr4NotTrigger))]
    [InlineData(nameof(WrongRules.VmEntryCr4NotTrigger))]
    public void No_guest_program_catches_a_lazy_kvm_with_either_nested_cr4_bug_because_nothing_in_L2_consumes(string variant)
    {
        // The entry's CR4 load marks an update pending (or, with the entry bug, leaves the table as L1's), and on VMX no
        // L0 consumer runs while L2 does: CPUID exits to L1. So the exit finds the marker set and L1's CPUID is right
        // either way; only a userspace KVM_GET_CPUID2 while L2 runs tells (scenarios/vmx_cr4_osxsave.scn).
        var buggy = new Policy(UpdateScheme.Lazy, WrongRules.Named(variant)!);

        var agreement = Runner.RunAll([Policy.Reference, buggy], p => TestMachine.Boot(Programs.VmxCr4OsxsaveByEntry(), p), TestMachine.DefaultSteps);

        Assert.True(agreement.Agree, agreement.FirstDifference);
    }
}
