using CpuidFunctional.Properties.Equivalence;
using CsCheck;

namespace CpuidFunctional.Properties.Interpreter;

/// <summary>
/// A run's trace is kept dictionary-coded (<see cref="DictionaryArray{T}"/>): each distinct event object once, and a
/// code of one, two or four bytes per position. Reading it back must give the very objects the run logged, in order,
/// whatever the code width; and two traces compare by their events' values, not by how they were coded.
/// </summary>
public class DictionaryArrayTests
{
    /// <summary><paramref name="distinct"/> value-different events (XSETBV of 0, 1, 2, ...).</summary>
    private static VcpuEvent[] Events(int distinct) =>
        Enumerable.Range(0, distinct).Select(i => (VcpuEvent)new VcpuEvent.Xsetbv(0, (ulong)i)).ToArray();

    private static DictionaryArray<VcpuEvent> Logged(IEnumerable<VcpuEvent> events)
    {
        var log = new DictionaryLog<VcpuEvent>();
        foreach (var e in events)
        {
            log.Add(e);
        }
        return log.ToDictionaryArray();
    }

    /// <summary>Whether <paramref name="trace"/> holds exactly <paramref name="expected"/>'s objects, in order.</summary>
    private static bool SameObjects(DictionaryArray<VcpuEvent> trace, IReadOnlyList<VcpuEvent> expected) =>
        trace.Count == expected.Count && Enumerable.Range(0, expected.Count).All(i => ReferenceEquals(trace[i], expected[i]));

    [Fact]
    public void Any_sequence_drawn_from_a_few_events_reads_back_as_the_same_objects_in_order()
    {
        // Up to 20 distinct events: more than the log's eight recent items, so the dictionary is used too.
        Gen.Select(Gen.Int[1, 20], Gen.Int[0, 1_000].Array[0, 400])
            .Sample(
                (distinct, picks) =>
                {
                    var events = Events(distinct);
                    var sequence = picks.Select(p => events[p % distinct]).ToArray();
                    return SameObjects(Logged(sequence), sequence);
                },
                iter: Budget.Iter(300)
            );
    }

    [Theory]
    [InlineData(256, 1)]
    [InlineData(257, 2)]
    [InlineData(65_536, 2)]
    [InlineData(65_537, 4)]
    public void Codes_take_the_fewest_bytes_that_index_every_distinct_event_and_read_back_at_that_width(int distinct, int width)
    {
        var events = Events(distinct);
        // Every event once, then the last, the first and the middle again: the widest codes are written and read.
        var sequence = events.Concat([events[^1], events[0], events[distinct / 2]]).ToArray();
        var trace = Logged(sequence);
        Assert.Equal(width, DictionaryArray<VcpuEvent>.CodeWidth(trace.Distinct.Length));
        Assert.Equal(distinct, trace.Distinct.Length);
        Assert.True(SameObjects(trace, sequence), $"{distinct} distinct events, {width}-byte codes: the trace did not read back as logged");
    }

    [Fact]
    public void Value_equal_events_in_different_objects_make_equal_traces_with_equal_hash_codes()
    {
        var cpuid = new VcpuEvent.Cpuid(1, 0);
        var a = Logged([cpuid, new VcpuEvent.Run(), cpuid]);
        var b = Logged([new VcpuEvent.Cpuid(1, 0), new VcpuEvent.Run(), new VcpuEvent.Cpuid(1, 0)]);
        Assert.Equal(2, a.Distinct.Length);
        Assert.Equal(3, b.Distinct.Length);
        Assert.Equal(a, b);
        Assert.Equal(a.GetHashCode(), b.GetHashCode());
    }

    [Fact]
    public void Traces_that_differ_in_one_event_or_in_length_are_not_equal()
    {
        var trace = Logged([new VcpuEvent.Cpuid(1, 0), new VcpuEvent.Run()]);
        Assert.NotEqual(trace, Logged([new VcpuEvent.Cpuid(1, 0), new VcpuEvent.Cpuid(1, 0)]));
        Assert.NotEqual(trace, Logged([new VcpuEvent.Cpuid(1, 0)]));
        Assert.Equal("[CPUID 0x1.0x0, KVM_RUN]", trace.ToString());
    }

    [Fact]
    public void A_log_is_empty_after_it_is_frozen_and_can_be_used_again()
    {
        var log = new DictionaryLog<VcpuEvent>();
        log.Add(new VcpuEvent.Run());
        Assert.Single(log.ToDictionaryArray());
        Assert.Equal(0, log.Count);
        Assert.Equal(DictionaryArray<VcpuEvent>.Empty, log.ToDictionaryArray());
    }
}
