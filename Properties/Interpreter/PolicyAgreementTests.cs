using System.Collections.Immutable;
using CpuidFunctional.Core.Checking;

namespace CpuidFunctional.Properties.Interpreter;

public class PolicyAgreementTests
{
    private static PolicyAgreement CpuidThenHlt() =>
        Runner.RunCorrect(TestMachine.L1(a => a.cpuid()), TestMachine.Vm, TestMachine.Table, TestMachine.DefaultSteps);

    [Fact]
    public void A_policy_agreement_equals_one_holding_the_same_runs_in_another_array_and_no_other()
    {
        var agreement = CpuidThenHlt();
        var copy = new PolicyAgreement(ImmutableArray.CreateRange(agreement.Runs), agreement.FirstDifference);
        Assert.Equal(agreement, copy);
        Assert.Equal(agreement.GetHashCode(), copy.GetHashCode());
        var reordered = new PolicyAgreement(ImmutableArray.Create(agreement.Runs[1], agreement.Runs[0], agreement.Runs[2]), null);
        Assert.NotEqual(agreement, reordered);
        Assert.NotEqual(agreement, copy with { FirstDifference = "eager vs lazy: steps: 2 vs 3" });
    }

    [Fact]
    public void A_policy_agreement_prints_its_policies_and_how_they_stopped_or_where_they_differ()
    {
        Assert.Equal("eager, lazy, reference agree: HLT at 0x1002 after 2 steps", CpuidThenHlt().ToString());
        var program = Programs.VmxCr4Osxsave();
        var buggy = new Policy(UpdateScheme.Eager, WrongRules.VmExitCr4NotTrigger);
        var disagreement = Runner.RunAll([Policy.Reference, buggy], p => TestMachine.Boot(program, p), TestMachine.DefaultSteps);
        Assert.StartsWith("reference, eager+VmExitCr4NotTrigger disagree: reference vs eager+VmExitCr4NotTrigger: ", disagreement.ToString(), StringComparison.Ordinal);
    }
}
