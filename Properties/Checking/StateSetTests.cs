using CpuidFunctional.Core.Checking.Internal;
using CsCheck;

namespace CpuidFunctional.Properties.Checking;

/// <summary>
/// The explorer's visited set keeps a state without references as the key alone (the default state, which marks an
/// empty slot, in a flag beside the table), and any other state with its hash. In either layout it must answer as a
/// <see cref="HashSet{T}"/> does, through growth, long collision runs and the default state.
/// </summary>
public class StateSetTests
{
    /// <summary>A packed state like the yardstick's; <c>Small(0)</c> is the default value.</summary>
    private readonly record struct Small(uint Bits);

    /// <summary>A state whose hash code is always the same, so every key lands on one probe run.</summary>
    private readonly record struct Colliding(uint Bits)
    {
        public override int GetHashCode() => 7;
    }

    /// <summary>A state with a reference: the hash-and-key layout.</summary>
    private readonly record struct Named(string Name);

    /// <summary>A state with a reference whose hash code is always the same: equal hashes, different keys.</summary>
    private readonly record struct CollidingName(string Name)
    {
        public override int GetHashCode() => 7;
    }

    private static readonly Gen<uint[]> Keys = Gen.OneOf(Gen.UInt[0, 40], Gen.UInt[0, 5000], Gen.UInt).Array[0, 6000];

    private static void AssertActsAsHashSet<TState>(uint[] keys, Func<uint, TState> state, uint probes)
        where TState : IEquatable<TState>
    {
        var set = new StateSet<TState>();
        var expected = new HashSet<TState>();
        for (var k = 0; k < keys.Length; k++)
        {
            var key = state(keys[k]);
            var hash = StateSet<TState>.Mix(key.GetHashCode());
            Assert.True(expected.Contains(key) == set.Contains(key, hash), $"step {k}: Contains({key}) before adding it");
            var added = set.Add(key, hash);
            Assert.True(expected.Add(key) == added, $"step {k}: Add({key}) returned {added}");
            Assert.True(set.Contains(key, hash), $"step {k}: {key} is missing right after Add");
        }
        Assert.Equal(expected.Count, set.Count);
        for (var bits = 0u; bits < probes; bits++)
        {
            var key = state(bits);
            Assert.True(expected.Contains(key) == set.Contains(key, StateSet<TState>.Mix(key.GetHashCode())), $"after {keys.Length} adds: Contains({key})");
        }
    }

    [Fact]
    public void A_packed_state_is_kept_as_the_key_alone_and_answers_as_a_hash_set() =>
        Keys.Sample(keys => AssertActsAsHashSet(keys, b => new Small(b), probes: 5001), iter: 60);

    [Fact]
    public void States_that_all_collide_are_still_told_apart_and_found_after_the_table_grows() =>
        Gen.UInt[0, 3000].Array[0, 3000].Sample(
            keys =>
            {
                AssertActsAsHashSet(keys, b => new Colliding(b), probes: 3001);
                AssertActsAsHashSet(keys, b => new CollidingName("s" + b), probes: 3001);
            },
            iter: 10
        );

    [Fact]
    public void A_state_with_a_reference_keeps_its_hash_and_answers_as_a_hash_set() =>
        Keys.Sample(keys => AssertActsAsHashSet(keys, b => new Named("s" + b), probes: 5001), iter: 30);

    [Fact]
    public void The_default_state_is_added_once_and_counted_like_any_other()
    {
        var set = new StateSet<Small>();
        var zero = StateSet<Small>.Mix(default(Small).GetHashCode());
        Assert.False(set.Contains(default, zero));
        Assert.True(set.Add(default, zero));
        Assert.False(set.Add(default, zero));
        Assert.True(set.Contains(default, zero));
        Assert.Equal(1, set.Count);
        for (var bits = 1u; bits <= 2000; bits++)
        {
            set.Add(new Small(bits), StateSet<Small>.Mix(new Small(bits).GetHashCode()));
        }
        Assert.True(set.Contains(default, zero), "the default state was lost when the table grew");
        Assert.Equal(2001, set.Count);
    }
}
