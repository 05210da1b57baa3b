using CpuidFunctional.Core.Checking;
using CpuidFunctional.Core.Checking.Internal;

namespace CpuidFunctional.Properties.Checking;

/// <summary>
/// The search expands a product state by stepping each policy through the whole alphabet at once
/// (<see cref="PolicyStates.StepAll"/>): a lazy policy steps every event before it interns any successor, so that the
/// intern table's cache misses overlap. That must give, event for event, the ids and observations that stepping one
/// event after the other gives, on states that a random walk through the genoa alphabet reaches.
/// </summary>
public class PolicyStatesTests
{
    private const int Unwritten = -1;

    private static KvmEquivalenceModel Genoa(Policy policy)
    {
        var configuration = CheckConfiguration.FromHost(HostPresets.Genoa, KernelProfile.Linux6_18).WithPolicies([policy]);
        return new KvmEquivalenceModel(configuration, KvmAlphabet.For(configuration, EquivalenceBounds.Full));
    }

    /// <summary>The states a seeded random walk of Kvm.Step meets, the initial one first.</summary>
    private static List<KvmState> Walk(Policy policy, KvmState initial, VcpuEvent[] alphabet, int seed, int length)
    {
        var random = new Random(seed);
        var states = new List<KvmState> { initial };
        for (var k = 0; k < length; k++)
        {
            states.Add(Kvm.Step(policy, states[^1], alphabet[random.Next(alphabet.Length)]).State);
        }
        return states;
    }

    private static void AssertStepAllIsStepByStep(Policy policy, VcpuEvent[] alphabet, int seed)
    {
        var model = Genoa(policy);
        var initial = model.Initial.Items[0];
        var policyStates = new PolicyStates(policy, initial, alphabet, new ObservationIds(initial.Vcpu.Cpuid));
        var random = new Random(seed);
        foreach (var state in Walk(policy, initial, alphabet, seed, length: 60))
        {
            var id = policyStates.Intern(state);
            var enabled = alphabet.Select(_ => random.Next(4) != 0).ToArray();
            var next = Enumerable.Repeat(Unwritten, alphabet.Length).ToArray();
            var observation = Enumerable.Repeat(Unwritten, alphabet.Length).ToArray();

            policyStates.StepAll(id, enabled, next, observation);

            for (var e = 0; e < alphabet.Length; e++)
            {
                if (!enabled[e])
                {
                    Assert.True(next[e] == Unwritten && observation[e] == Unwritten, $"seed {seed}: disabled event {e} ({alphabet[e]}) was written");
                    continue;
                }
                var one = policyStates.Step(id, e);
                Assert.True(
                    (next[e], observation[e]) == one,
                    $"seed {seed}: event {e} ({alphabet[e]}) from state {id}: all at once gave (next {next[e]}, observation {observation[e]}), one at a time {one}"
                );
                Assert.Equal(Kvm.Step(policy, state, alphabet[e]).State, policyStates.State(next[e]));
            }
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void A_lazy_policy_steps_a_whole_state_as_it_steps_one_event_after_the_other(int seed) =>
        AssertStepAllIsStepByStep(Policy.Lazy, [.. Genoa(Policy.Lazy).Alphabet], seed);

    [Fact]
    public void An_eager_policy_reads_its_remembered_steps_for_a_whole_state_as_for_one_event() =>
        AssertStepAllIsStepByStep(Policy.Eager, [.. Genoa(Policy.Eager).Alphabet], seed: 4);

    [Fact]
    public void An_alphabet_longer_than_the_stack_buffer_is_stepped_one_event_after_the_other_with_the_same_results()
    {
        var alphabet = Genoa(Policy.Lazy).Alphabet;
        VcpuEvent[] longer = [.. alphabet, .. alphabet];
        Assert.True(longer.Length > 64, $"the genoa alphabet doubled has {longer.Length} events; the test needs more than 64");
        AssertStepAllIsStepByStep(Policy.Lazy, longer, seed: 5);
    }
}
