using CpuidFunctional.Core.Checking;

namespace CpuidFunctional.Properties.Fuzz;

/// <summary>
/// The program fuzzer has teeth: with a wrong variant of <see cref="KvmRules.Kvm"/> on the Lazy scheme it finds a
/// program whose run differs from Eager's, for every variant a guest program can reach. The others need an event no
/// guest instruction causes (docs/testing.md, "Fuzzing" says which and why); <see cref="Unreachable"/> lists them so
/// that a new variant must be put on one side or the other.
/// </summary>
[Trait("Category", Fuzzer.Category)]
public class FuzzTeethTests
{
    /// <summary>Variants a guest program (or its boot table) can expose, with the share of the fuzz budget each may use.</summary>
    public static TheoryData<string> Reachable => new()
    {
        nameof(WrongRules.ForgetCr4Trigger), nameof(WrongRules.Cr4TriggerOnlyOnSet), nameof(WrongRules.ForgetXcr0Trigger),
        nameof(WrongRules.ForgetXssTrigger), nameof(WrongRules.ForgetApicBaseTrigger), nameof(WrongRules.ClearMarkerWithoutMaterialize), nameof(WrongRules.D1OnlyWithXsaves),
        nameof(WrongRules.LookupByLeafSubleaf), nameof(WrongRules.SetCpuidKeepsUserspaceBits), nameof(WrongRules.MwaitQuirkInverted),
        nameof(WrongRules.OsXsaveWithoutXsave), nameof(WrongRules.CompactedIgnoresAlignment), nameof(WrongRules.VmrunCr4NotTrigger),
        nameof(WrongRules.VmEntryCr4NotTrigger), nameof(WrongRules.VmExitCr4NotTrigger),
    };

    /// <summary>
    /// Variants no guest program reaches: SMI, RESET and the SEV-ES GHCB sync are events no guest instruction causes in
    /// the interpreter (no SMI source, no RESET instruction, no SEV-ES guest). The nested CR4 loads are reachable: an
    /// SVM set-up lets L2's unintercepted CPUID see a VMRUN's missing trigger, and a VMX set-up whose L1 flips its own
    /// CR4 before VMRESUME lets L1's next CPUID see a VM entry's or exit's.
    /// </summary>
    public static readonly string[] Unreachable =
        [nameof(WrongRules.SmiNotTrigger), nameof(WrongRules.ResetAssignsXcr0AndXss), nameof(WrongRules.SevEsXssRefused)];

    /// <summary>Cases each variant gets whatever the machine's speed, so the fixed default seed gives the same verdict everywhere.</summary>
    private const long MinCases = 6000;

    [Theory]
    [MemberData(nameof(Reachable))]
    public void The_program_fuzzer_finds_a_disagreement_with_the_wrong_variant(string variant)
    {
        var rules = WrongRules.Named(variant)!;
        var report = Fuzzer.Run(ProgramFuzz.Target("teeth-" + variant, [Policy.Eager, new Policy(UpdateScheme.Lazy, rules)]), 0.01, saveReproducer: false, minCases: MinCases);
        TestContext.Current.TestOutputHelper?.WriteLine($"{report}\n{string.Join("\n", report.Failures)}");
        Assert.True(report.Failures.Count == 1, $"{variant}: no disagreement in {report.Cases} programs ({report.Elapsed.TotalSeconds:0.0} s)");
        Assert.Contains("disagreement", report.Failures[0], StringComparison.Ordinal);
    }

    [Fact]
    public void Every_wrong_variant_is_either_reachable_by_programs_or_listed_as_unreachable()
    {
        var classified = Reachable.Select(row => row.Data).Concat(Unreachable).Order(StringComparer.Ordinal);
        Assert.Equal(WrongRules.All.Select(r => r.Name).Order(StringComparer.Ordinal), classified);
    }
}
