using System.Collections.Immutable;
using System.Text;
using CpuidFunctional.Core.State;

namespace CpuidFunctional.Core.Checking;

/// <summary>
/// The inputs of the fuzz harness (docs/testing.md), as pure functions of a <see cref="Draws"/> cursor, so that case
/// <c>k</c> of seed <c>s</c> is <c>Draws.ForItem(s, k)</c> and nothing else: raw guest bytes, biased opcode soups
/// (machine-code gadgets for the instructions the interpreter emulates, with the MSR indices, CR4 and XCR0 values and
/// leaves the model cares about), byte and text mutations of a seed corpus, and a delta-debugging minimizer for the
/// reproducer a failure leaves behind.
/// </summary>
public static class FuzzInputs
{
    /// <summary>Leaves worth asking for: the dynamic ones, an unlisted one, the bases of every class and beyond.</summary>
    public static ImmutableArray<uint> Leaves { get; } =
        [0, 1, 7, 0xB, 0xD, 0x14, 0x1F, 0x4000_0000, 0x4000_0001, 0x8000_0000, 0x8000_0008, 0x8000_0021, 0xC000_0000, 0xFFFF_FFFF];

    /// <summary>MSRs the model handles, and one it does not.</summary>
    public static ImmutableArray<uint> Msrs { get; } =
        [Msr.ApicBase, Msr.MiscEnable, Msr.Xss, Msr.TsxCtrl, Msr.MiscFeaturesEnables, Msr.PlatformInfo, Msr.NotKnownToKvm];

    /// <summary>CR4 values around the dynamic bits (the interpreter starts with PAE, OSFXSR and OSXMMEXCPT).</summary>
    public static ImmutableArray<ulong> Cr4Values { get; } =
    [
        Cr4.Pae | Cr4.OsFxsr | Cr4.OsXmmExcpt, Cr4.Pae | Cr4.OsFxsr | Cr4.OsXmmExcpt | Cr4.OsXsave,
        Cr4.Pae | Cr4.OsFxsr | Cr4.OsXmmExcpt | Cr4.Pke, Cr4.Pae | Cr4.OsFxsr | Cr4.OsXmmExcpt | Cr4.OsXsave | Cr4.Pke,
        Cr4.Pae | Cr4.OsFxsr | Cr4.OsXmmExcpt | Cr4.OsXsave | Cr4.Vmxe,
    ];

    /// <summary>XCR0 values a guest with the group may load (drawn uniformly: which one a guest may load depends on its host): every group, and AMX after PKRU (where 64-byte alignment matters).</summary>
    public static ImmutableArray<ulong> Xcr0Values { get; } = [0x7, 0x3, 0x207, 0x1, 0xE7, 0x2E7, 0x1F, 0x6_0007, 0x6_0207, 0x6_02E7];

    /// <summary>
    /// Values per MSR, commonest first: IA32_XSS's CET bits (the only ones KVM supports), APIC enabled, disabled and
    /// x2APIC, MISC_ENABLE with and without MWAIT, TSX_CTRL's two bits; 0 for the rest.
    /// </summary>
    public static ImmutableArray<ulong> MsrValues(uint msr) => msr switch
    {
        Msr.Xss => [0x1800, 0, 0x800, 0x1000],
        Msr.ApicBase => [0xFEE0_0900, 0xFEE0_0100, 0xFEE0_0D00],
        Msr.MiscEnable => [Msr.MiscEnableMwait | 1, 1, Msr.MiscEnableMwait, 0],
        Msr.TsxCtrl => [Msr.TsxCtrlCpuidClear, 0, Msr.TsxCtrlWritable, Msr.TsxCtrlRtmDisable],
        _ => [0],
    };

    /// <summary>
    /// Values every check refuses (a refusal is a fault that ends a program without an IDT, so they are drawn one time
    /// in eight): CR4 without PAE or with a reserved bit, XCR0 without x87, YMM without SSE, half of MPX or AMX, bit 63,
    /// and all-ones MSR values.
    /// </summary>
    public static ImmutableArray<ulong> Hostile { get; } = [0, 1ul << 40, 0x5, 0xF, 0x2_0007, 0x8000_0000_0000_0007, 0x1, ulong.MaxValue];

    /// <summary>A valid value seven times in eight, biased to the list's first (commonest) entries; else a hostile one.</summary>
    private static ulong Value(Draws r, ImmutableArray<ulong> valid) =>
        r.Weighted(7, 1) == 0 ? valid[Math.Min(r.Below(valid.Length), r.Below(valid.Length))] : r.Of(Hostile.AsSpan());

    /// <summary>
    /// A guest's bytes drawn uniformly: <paramref name="maxLength"/> at most, one in four cases ending in CPUID 1 and
    /// HLT so that a run which survives its noise still observes something.
    /// </summary>
    public static byte[] RandomBytes(Draws r, int maxLength)
    {
        var bytes = new List<byte>();
        var length = r.Between(1, maxLength);
        for (var i = 0; i < length; i++)
        {
            bytes.Add((byte)r.Next());
        }
        if (r.Below(4) == 0)
        {
            bytes.AddRange(Observe(1, 0));
            bytes.Add(0xF4);
        }
        return [.. bytes];
    }

    /// <summary>
    /// A biased opcode soup: half the time a prologue that sets CR4.OSXSAVE and PKE and runs CPUID, then 1 to
    /// <paramref name="maxGadgets"/> gadgets (set CR4, XSETBV, WRMSR, RDMSR, CPUID, XGETBV,
    /// MONITOR/MWAIT, OUT, a few random bytes), weighted towards the triggers and the observations, then CPUID 1,
    /// CPUID 0xD.0, CPUID 0xD.1 and HLT.
    /// </summary>
    public static byte[] OpcodeSoup(Draws r, int maxGadgets)
    {
        var bytes = new List<byte>();
        if (r.Below(2) == 0)
        {
            // Half the soups start where the XSAVE state is live: CR4.OSXSAVE and PKE set, then a consumer.
            bytes.AddRange([0x48, 0xB8, .. Le64(Cr4Values[3]), 0x0F, 0x22, 0xE0]);
            bytes.AddRange(Observe(1, 0));
        }
        var gadgets = r.Between(1, maxGadgets);
        for (var i = 0; i < gadgets; i++)
        {
            bytes.AddRange(Gadget(r));
        }
        bytes.AddRange(Observe(1, 0));
        bytes.AddRange(Observe(0xD, 0));
        bytes.AddRange(Observe(0xD, 1));
        bytes.Add(0xF4);
        return [.. bytes];
    }

    /// <summary>One gadget of <see cref="OpcodeSoup"/>.</summary>
    public static byte[] Gadget(Draws r) => r.Weighted(5, 4, 4, 2, 6, 1, 1, 1, 2) switch
    {
        // mov rax, imm64; mov cr4, rax
        0 => [0x48, 0xB8, .. Le64(Value(r, Cr4Values)), 0x0F, 0x22, 0xE0],
        // xor ecx, ecx; mov eax, lo; mov edx, hi; xsetbv
        1 => XsetbvGadget(r.Weighted(7, 1) == 0 ? r.Of(Xcr0Values.AsSpan()) : r.Of(Hostile.AsSpan())),
        // mov ecx, msr; mov eax, lo; mov edx, hi; wrmsr
        2 => r.Of(Msrs.AsSpan()) is var msr ? WrmsrGadget(msr, Value(r, MsrValues(msr))) : [],
        // mov ecx, msr; rdmsr
        3 => [0xB9, .. Le32(r.Of(Msrs.AsSpan())), 0x0F, 0x32],
        4 => Observe(r.Of(Leaves.AsSpan()), (uint)r.Weighted(4, 2, 1, 1)),
        // xor ecx, ecx; xgetbv
        5 => [0x31, 0xC9, 0x0F, 0x01, 0xD0],
        // monitor; mwait
        6 => [0x0F, 0x01, 0xC8, 0x0F, 0x01, 0xC9],
        // out 0x80, eax
        7 => [0xE7, 0x80],
        _ => [.. Enumerable.Range(0, r.Between(1, 4)).Select(_ => (byte)r.Next())],
    };

    /// <summary>mov eax, leaf; mov ecx, subleaf; cpuid.</summary>
    public static byte[] Observe(uint leaf, uint subleaf) => [0xB8, .. Le32(leaf), 0xB9, .. Le32(subleaf), 0x0F, 0xA2];

    private static byte[] XsetbvGadget(ulong value) =>
        [0x31, 0xC9, 0xB8, .. Le32((uint)value), 0xBA, .. Le32((uint)(value >> 32)), 0x0F, 0x01, 0xD1];

    private static byte[] WrmsrGadget(uint msr, ulong value) =>
        [0xB9, .. Le32(msr), 0xB8, .. Le32((uint)value), 0xBA, .. Le32((uint)(value >> 32)), 0x0F, 0x30];

    private static byte[] Le32(uint v) => [(byte)v, (byte)(v >> 8), (byte)(v >> 16), (byte)(v >> 24)];

    private static byte[] Le64(ulong v) => [.. Le32((uint)v), .. Le32((uint)(v >> 32))];

    /// <summary>
    /// One to eight byte mutations of <paramref name="seed"/> (flip a bit, set a byte, insert a gadget, delete or
    /// duplicate a run of bytes), as AFL's havoc stage does; never longer than <paramref name="maxLength"/>.
    /// </summary>
    public static byte[] MutateBytes(Draws r, ReadOnlySpan<byte> seed, int maxLength)
    {
        var bytes = new List<byte>(seed.ToArray());
        var count = r.Between(1, 8);
        for (var i = 0; i < count; i++)
        {
            var at = bytes.Count == 0 ? 0 : r.Below(bytes.Count);
            switch (r.Weighted(3, 2, 2, 1, 1))
            {
                case 0 when bytes.Count > 0:
                    bytes[at] ^= (byte)(1 << r.Below(8));
                    break;
                case 1 when bytes.Count > 0:
                    bytes[at] = (byte)r.Next();
                    break;
                case 2:
                    bytes.InsertRange(at, Gadget(r));
                    break;
                case 3 when bytes.Count > 0:
                    bytes.RemoveRange(at, Math.Min(r.Between(1, 16), bytes.Count - at));
                    break;
                case 4 when bytes.Count > 0:
                    var run = bytes.GetRange(at, Math.Min(r.Between(1, 32), bytes.Count - at));
                    bytes.InsertRange(r.Below(bytes.Count + 1), run);
                    break;
                default:
                    break;
            }
        }
        return [.. bytes.Take(maxLength)];
    }

    /// <summary>Tokens a hostile text may hold: numbers at and beyond every width, signs, odd separators, control characters.</summary>
    public static ImmutableArray<string> Tokens { get; } =
    [
        "0", "1", "-1", "0x", "0xFFFFFFFF", "0x100000000", "0xFFFFFFFFFFFFFFFF", "0x10000000000000000", "99999999999999999999",
        "2147483648", "+5", "0b101", "1e3", "#", "=", ":", ",", "eax=", "\t", " ", "\r", "\0", "\f", "\u2028", "\u0085", "\uFEFF",
        "\uD800", "é", "expect", "step", "host", "dump", "skylake-sp", "AMX", "XCR0", "CR4", "ok",
    ];

    /// <summary>
    /// One to six text mutations of <paramref name="seed"/>, by line (delete, duplicate, swap, truncate) and by token
    /// (replace a word with one of <see cref="Tokens"/>, insert a token, flip a character), for the scenario parser
    /// and the dump importers.
    /// </summary>
    public static string MutateText(Draws r, string seed)
    {
        var lines = new List<string>(seed.Split('\n'));
        var count = r.Between(1, 6);
        for (var i = 0; i < count && lines.Count > 0; i++)
        {
            var at = r.Below(lines.Count);
            switch (r.Weighted(2, 2, 1, 1, 4, 3, 2))
            {
                case 0:
                    lines.RemoveAt(at);
                    break;
                case 1:
                    lines.Insert(r.Below(lines.Count + 1), lines[at]);
                    break;
                case 2:
                    (lines[at], lines[^1]) = (lines[^1], lines[at]);
                    break;
                case 3:
                    lines[at] = lines[at][..r.Below(lines[at].Length + 1)];
                    break;
                case 4:
                    lines[at] = ReplaceWord(r, lines[at]);
                    break;
                case 5:
                    lines[at] = lines[at].Insert(r.Below(lines[at].Length + 1), r.Of(Tokens.AsSpan()));
                    break;
                default:
                    lines[at] = FlipCharacter(r, lines[at]);
                    break;
            }
        }
        return string.Join('\n', lines);
    }

    private static string ReplaceWord(Draws r, string line)
    {
        var words = line.Split(' ');
        words[r.Below(words.Length)] = r.Of(Tokens.AsSpan());
        return string.Join(' ', words);
    }

    private static string FlipCharacter(Draws r, string line)
    {
        if (line.Length == 0)
        {
            return line;
        }
        var chars = line.ToCharArray();
        var at = r.Below(chars.Length);
        chars[at] = (char)(chars[at] ^ (1 << r.Below(8)));
        return new string(chars);
    }

    /// <summary>
    /// Delta debugging (Zeller's ddmin, complements only): removes ever smaller chunks of <paramref name="input"/> while
    /// <paramref name="fails"/> still holds, and returns a 1-minimal sublist (no single element can go). At most
    /// <paramref name="maxTests"/> calls of <paramref name="fails"/>.
    /// </summary>
    public static ImmutableArray<T> Minimize<T>(ImmutableArray<T> input, Func<ImmutableArray<T>, bool> fails, int maxTests = 2000)
    {
        var current = input;
        var chunks = 2;
        var tests = 0;
        while (current.Length >= 2 && tests < maxTests)
        {
            var size = (current.Length + chunks - 1) / chunks;
            var reduced = false;
            for (var start = 0; start < current.Length && tests < maxTests; start += size)
            {
                var candidate = current.RemoveRange(start, Math.Min(size, current.Length - start));
                tests++;
                if (fails(candidate))
                {
                    current = candidate;
                    chunks = Math.Max(chunks - 1, 2);
                    reduced = true;
                    break;
                }
            }
            if (!reduced)
            {
                if (size == 1)
                {
                    break;
                }
                chunks = Math.Min(chunks * 2, current.Length);
            }
        }
        return current;
    }

    /// <summary><see cref="Minimize{T}"/> of a text by lines (the unit a reproducer is read in).</summary>
    public static string MinimizeLines(string text, Func<string, bool> fails) =>
        string.Join('\n', Minimize([.. text.Split('\n')], lines => fails(string.Join('\n', lines))));

    /// <summary>A text's UTF-16 code units as a printable escape, for a failure message (control characters and non-ASCII as \uXXXX).</summary>
    public static string Escape(string text)
    {
        var b = new StringBuilder(text.Length);
        foreach (var c in text)
        {
            b.Append(c is '\n' or (>= ' ' and <= '~') ? c.ToString() : $"\\u{(int)c:X4}");
        }
        return b.ToString();
    }
}
