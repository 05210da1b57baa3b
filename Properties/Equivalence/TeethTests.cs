using CpuidFunctional.Core.Checking;
using CpuidFunctional.Properties.Generators;
using CsCheck;

namespace CpuidFunctional.Properties.Equivalence;

/// <summary>
/// Property 5: the equivalence check has teeth. Each deliberately wrong variant (one broken rule, a
/// <see cref="WrongRules"/> variant on the Lazy scheme, or the Dec-2025 LazyUnfixed scheme) must be caught against Eager and
/// Reference by the main trace generator within the iteration budget. The shrunk counterexample, with its seed,
/// goes to the test output (docs/counterexamples.md collects them).
/// </summary>
public class TeethTests(ITestOutputHelper output)
{
    /// <summary>
    /// Enough for every variant but one: the forgotten XSS trigger (which needs a 6.18 profile, a host with supervisor
    /// components and 0xD.1 observed) shows up in about 1 trace in 120, so missing it in 4,000 has a probability near
    /// e^-33. The iterations after the first failure are spent shrinking.
    /// </summary>
    private const long Iterations = 4_000;

    /// <summary>
    /// For the rarest variant, the SEV-ES GHCB XSS refused: 69 traces in 40,000 showed it (about 1 in 580), so 4,000
    /// missed it with a probability near e^-7 (it did once, in a full suite run); 20,000 make that about e^-34.
    /// </summary>
    private const long RareIterations = 20_000;

    [Fact]
    public void Forgetting_the_CR4_trigger_is_caught() => Caught(WrongRules.ForgetCr4Trigger);

    [Fact]
    public void Triggering_only_when_a_CR4_bit_is_set_not_when_it_flips_is_caught() => Caught(WrongRules.Cr4TriggerOnlyOnSet);

    [Fact]
    public void Forgetting_the_XSETBV_trigger_is_caught() => Caught(WrongRules.ForgetXcr0Trigger);

    [Fact]
    public void Forgetting_the_XSS_trigger_is_caught() => Caught(WrongRules.ForgetXssTrigger);

    [Fact]
    public void Forgetting_the_APIC_base_trigger_is_caught() => Caught(WrongRules.ForgetApicBaseTrigger);

    [Fact]
    public void Nested_VM_exit_host_CR4_load_not_triggering_is_caught() => Caught(WrongRules.VmExitCr4NotTrigger);

    [Fact]
    public void SMM_entry_not_triggering_is_caught() => Caught(WrongRules.SmiNotTrigger);

    [Fact]
    public void Clearing_the_marker_without_materializing_is_caught() => Caught(WrongRules.ClearMarkerWithoutMaterialize);

    [Fact]
    public void Rewriting_0xD_1_only_when_XSAVES_is_exposed_is_caught() => Caught(WrongRules.D1OnlyWithXsaves);

    [Fact]
    public void Compacted_size_without_64_byte_alignment_is_caught() => Caught(WrongRules.CompactedIgnoresAlignment);

    [Fact]
    public void Lookup_keyed_by_leaf_and_subleaf_is_caught() => Caught(WrongRules.LookupByLeafSubleaf);

    [Fact]
    public void Nested_VM_entry_guest_CR4_load_not_triggering_is_caught() => Caught(WrongRules.VmEntryCr4NotTrigger);

    [Fact]
    public void RESET_assigning_XCR0_and_XSS_without_their_triggers_is_caught() => Caught(WrongRules.ResetAssignsXcr0AndXss);

    [Fact]
    public void KVM_SET_CPUID2_keeping_userspaces_dynamic_bits_is_caught() => Caught(WrongRules.SetCpuidKeepsUserspaceBits);

    [Fact]
    public void The_MWAIT_quirk_with_inverted_polarity_is_caught() => Caught(WrongRules.MwaitQuirkInverted);

    [Fact]
    public void CR4_OSXSAVE_settable_without_guest_XSAVE_is_caught() => Caught(WrongRules.OsXsaveWithoutXsave);

    [Fact]
    public void The_SEV_ES_GHCB_XSS_refused_on_the_vendor_path_is_caught() => Caught(new Policy(UpdateScheme.Lazy, WrongRules.SevEsXssRefused), RareIterations);

    [Fact]
    public void VMRUN_save_CR4_load_not_triggering_is_caught() => Caught(WrongRules.VmrunCr4NotTrigger);

    [Fact]
    public void LazyUnfixed_KVM_SET_CPUID2_while_dirty_is_caught() => Caught(Policy.LazyUnfixed);

    private void Caught(KvmRules wrong) => Caught(new Policy(UpdateScheme.Lazy, wrong));

    private void Caught(Policy wrong, long iterations = Iterations)
    {
        Policy[] policies = [wrong, Policy.Eager, Policy.Reference];
        var failure = Assert.Throws<CsCheckException>(() =>
            TraceGen.Trace.Sample(
                t => Lockstep.Agree(t, policies),
                iter: Budget.Iter(iterations),
                print: t => Lockstep.Explain(t, policies)
            )
        );
        output.WriteLine($"{wrong} caught:\n{failure.Message}");
        Assert.Contains("first difference at event", failure.Message, StringComparison.Ordinal);
    }
}
