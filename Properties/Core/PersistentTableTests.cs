using CpuidFunctional.Properties.Generators;
using CsCheck;

namespace CpuidFunctional.Properties.Core;

/// <summary>
/// The CPUID table is persistent (a shared base plus a few patched entries): whatever the representation, a table
/// reads, compares and hashes as the plain list of its entries would.
/// </summary>
public class PersistentTableTests
{
    /// <summary>A table, and edits of its outputs (position, new EBX/ECX) to apply one at a time.</summary>
    private static readonly Gen<(CpuidTable Table, (int Position, uint Ebx, uint Ecx)[] Edits)> TableAndEdits =
        GuestTableGen.Table.SelectMany(t =>
            Gen.Select(Gen.Int[0, t.Count - 1], Gen.UInt, Gen.UInt).Array[0, 20].Select(edits => (t, edits)));

    private static CpuidTable Apply(CpuidTable t, (int Position, uint Ebx, uint Ecx) edit) =>
        t.SetItem(edit.Position, t[edit.Position] with { Ebx = edit.Ebx, Ecx = edit.Ecx });

    [Fact]
    public void A_patched_table_reads_compares_and_hashes_as_its_flattened_copy() =>
        TableAndEdits.Sample(x =>
        {
            var expected = x.Table.Entries.ToArray();
            var patched = x.Table;
            foreach (var edit in x.Edits)
            {
                patched = Apply(patched, edit);
                expected[edit.Position] = expected[edit.Position] with { Ebx = edit.Ebx, Ecx = edit.Ecx };
            }
            var flat = CpuidTable.Of(expected);
            Assert.Equal(expected, patched.Entries);
            Assert.Equal(expected, Enumerable.Range(0, patched.Count).Select(i => patched[i]));
            Assert.True(patched.Equals(flat), $"patched != flat:\n{patched}\n{flat}");
            Assert.True(flat.Equals(patched), "flat != patched");
            Assert.Equal(flat.GetHashCode(), patched.GetHashCode());
        });

    [Fact]
    public void Two_versions_of_one_base_are_equal_exactly_when_their_entries_are() =>
        Gen.Select(TableAndEdits, Gen.Int[0, 20]).Sample(x =>
        {
            var (table, edits) = x.Item1;
            var cut = Math.Min(x.Item2, edits.Length);
            var a = edits.Aggregate(table, Apply);
            var b = edits[..cut].Aggregate(table, Apply);
            var sameEntries = a.Entries.SequenceEqual(b.Entries);
            Assert.Equal(sameEntries, a.Equals(b));
            Assert.Equal(sameEntries, b.Equals(a));
        });

    [Fact]
    public void A_write_back_of_the_original_entry_gives_a_table_equal_to_the_original() =>
        TableAndEdits.Sample(x =>
        {
            var edited = x.Edits.Aggregate(x.Table, Apply);
            var restored = edited;
            foreach (var (position, _, _) in x.Edits)
            {
                restored = restored.SetItem(position, x.Table[position]);
            }
            Assert.Equal(x.Table, restored);
            Assert.Equal(x.Table.GetHashCode(), restored.GetHashCode());
        });

    [Fact]
    public void A_write_that_changes_an_entry_key_is_found_by_lookup() =>
        GuestTableGen.Table.Where(t => t.IndexOfFunction(1) >= 0).Sample(t =>
        {
            var i = t.IndexOfFunction(1);
            var moved = t.SetItem(i, t[i] with { Function = 0x4FFF_FFF0 });
            Assert.Equal(i, moved.IndexOfFunction(0x4FFF_FFF0));
            Assert.NotEqual(t, moved);
        });

    [Fact]
    public void Setting_an_unchanged_entry_returns_the_same_instance() =>
        GuestTableGen.Table.Where(t => t.Count > 0).Sample(t => Assert.Same(t, t.SetItem(0, t[0])));

    /// <summary>Register writes (position, register, value) for a table of <paramref name="count"/> entries.</summary>
    private static Gen<OutputWrite[]> Writes(int count) =>
        Gen.Select(Gen.Int[0, count - 1], Gen.Int[0, 3], Gen.UInt[0, 3])
            .Select(w => new OutputWrite(w.Item1, (CpuidRegister)w.Item2, w.Item3))
            .Array[0, 12];

    /// <summary>A table, and batches of register writes to apply one batch at a time (later batches meet patches).</summary>
    private static readonly Gen<(CpuidTable Table, OutputWrite[][] Batches)> TableAndBatches =
        GuestTableGen.Table.Where(t => t.Count > 0).SelectMany(t => Writes(t.Count).Array[1, 4].Select(batches => (t, batches)));

    [Fact]
    public void Batches_of_register_writes_read_as_the_flattened_copy_with_those_registers_set_the_last_write_winning() =>
        TableAndBatches.Sample(x =>
        {
            var expected = x.Table.Entries.ToArray();
            var written = x.Table;
            foreach (var batch in x.Batches)
            {
                foreach (var w in batch)
                {
                    expected[w.Position] = expected[w.Position].With(w.Register, w.Value);
                }
                written = written.WithOutputs(batch);
            }
            var flat = CpuidTable.Of(expected);
            Assert.Equal(expected, written.Entries);
            Assert.Equal(flat, written);
            Assert.Equal(flat.GetHashCode(), written.GetHashCode());
            for (var i = 0; i < expected.Length; i++)
            {
                foreach (var register in new[] { CpuidRegister.Eax, CpuidRegister.Ebx, CpuidRegister.Ecx, CpuidRegister.Edx })
                {
                    Assert.Equal(expected[i].Get(register), written.Output(i, register));
                }
            }
            Assert.Equal(flat.IndexOf(0xD, 1), written.IndexOf(0xD, 1));
            Assert.Equal(flat.IndexOfFunction(1), written.IndexOfFunction(1));
        });

    [Fact]
    public void Register_writes_that_leave_every_output_as_it_was_return_the_same_instance() =>
        TableAndBatches.Sample(x =>
        {
            // A patched table, then each write followed by a write of the value its register had.
            var patched = x.Table.WithOutputs(x.Batches[0]);
            var restoring = x.Batches[^1].SelectMany(w => new[] { w, w with { Value = patched.Output(w.Position, w.Register) } }).ToArray();
            Assert.Same(patched, patched.WithOutputs(restoring));
        });

    [Fact]
    public void A_register_other_than_EAX_to_EDX_is_refused_whatever_the_table_holds()
    {
        var table = CpuidTable.Of(CpuidEntry.Plain(1, 0, 0, 0, 0), CpuidEntry.Plain(7, 0, 0, 0, 0));
        var patched = table.WithOutputs([new OutputWrite(0, CpuidRegister.Ebx, 1)]);
        foreach (var t in new[] { table, patched })
        {
            // A value equal to the one in EDX, so nothing but the register's name can make it fail.
            var write = Assert.Throws<ArgumentOutOfRangeException>(() => t.WithOutputs([new OutputWrite(0, (CpuidRegister)4, 0)]));
            Assert.Equal("register", write.ParamName);
            var read = Assert.Throws<ArgumentOutOfRangeException>(() => t.Output(0, (CpuidRegister)4));
            Assert.Equal("register", read.ParamName);
        }
    }

    /// <summary>Functions at and around the edges of the ranges whose first positions a base records, and outside them.</summary>
    private static readonly uint[] EdgeFunctions =
        [0, 1, 7, 0xD, 0x1F, 0x20, 0x4000_0000, 0x7FFF_FFFF, 0x8000_0000, 0x8000_0001, 0x8000_001F, 0x8000_0020, 0xFFFF_FFFF];

    /// <summary>An entry keyed by one of <see cref="EdgeFunctions"/>, index 0–2, index significant or not.</summary>
    private static readonly Gen<CpuidEntry> EdgeEntry =
        Gen.Select(Gen.Int[0, EdgeFunctions.Length - 1].Select(i => EdgeFunctions[i]), Gen.UInt[0, 2], Gen.Bool, Gen.UInt).Select(x =>
            new CpuidEntry(x.Item1, x.Item2, x.Item3 ? CpuidFlags.SignificantIndex : CpuidFlags.None, x.Item4, 0, 0, 0));

    /// <summary>KVM's rule read literally: the first entry in order that matches, or -1.</summary>
    private static int FirstMatch(CpuidTable t, Func<CpuidEntry, bool> match) =>
        Enumerable.Range(0, t.Count).FirstOrDefault(i => match(t[i]), -1);

    [Fact]
    public void Lookups_find_the_first_matching_entry_in_order_even_after_keys_change() =>
        Gen.Select(EdgeEntry.Array[0, 24], Gen.Select(Gen.Int[0, 23], EdgeEntry).Array[0, 4]).Sample(x =>
        {
            var (entries, rekeys) = x;
            var t = CpuidTable.Of(entries);
            foreach (var (position, entry) in rekeys.Where(r => r.Item1 < entries.Length))
            {
                t = t.SetItem(position, entry);
            }
            foreach (var function in EdgeFunctions)
            {
                Assert.Equal(FirstMatch(t, e => e.Function == function), t.IndexOfFunction(function));
                for (var index = 0u; index <= 2; index++)
                {
                    Assert.Equal(FirstMatch(t, e => e.Matches(function, index)), t.IndexOf(function, index));
                }
            }
        });
}
