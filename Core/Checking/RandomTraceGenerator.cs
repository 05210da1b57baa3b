using System.Collections.Immutable;
using CpuidFunctional.Core.Cpuid;
using CpuidFunctional.Core.Dynamic;
using CpuidFunctional.Core.Host;
using CpuidFunctional.Core.Model;
using CpuidFunctional.Core.State;

namespace CpuidFunctional.Core.Checking;

/// <summary>
/// Random traces for the observation-equivalence check, drawn from a <see cref="SplitMix64"/> so that trace k of a
/// run is a function of (seed, k) and the generator's settings only: any trace can be regenerated alone, and a run
/// can be split over machines by k. A trace is a VM (a host and kernel from the given lists, random quirks), a guest
/// table derived from the host with random userspace values in the dynamic outputs and a few structural edits,
/// KVM_SET_CPUID2 of it, usually KVM_RUN, then segments of zero to eight state changes each followed by one
/// observation, so several changes are pending when a consumer looks. Event kinds and values follow the test
/// suite's CsCheck generators (Properties/Generators/EventGen.cs), including refused values. The
/// <see cref="MwaitQuirkRule"/> is applied last, so the three correct policies must agree on every trace.
/// </summary>
public sealed class RandomTraceGenerator
{
    /// <summary>The default number of events after KVM_SET_CPUID2 and KVM_RUN.</summary>
    public const int DefaultLength = 40;

    private const ulong LegacyCr4 = Cr4.Pae | Cr4.OsFxsr | Cr4.OsXmmExcpt;

    /// <summary>A generator over these hosts and kernel profiles, with <paramref name="length"/> events per trace body.</summary>
    /// <exception cref="ArgumentException">No host, no profile, or a length below 1.</exception>
    public RandomTraceGenerator(IReadOnlyList<HostCpu> hosts, IReadOnlyList<KernelProfile> profiles, int length = DefaultLength)
    {
        if (hosts.Count == 0 || profiles.Count == 0 || length < 1)
        {
            throw new ArgumentException("a generator needs at least one host, one kernel profile and a length of at least 1");
        }
        Hosts = [.. hosts];
        Profiles = [.. profiles];
        Length = length;
    }

    /// <summary>The hosts a trace's VM is drawn from.</summary>
    public ImmutableArray<HostCpu> Hosts { get; }

    /// <summary>The kernel profiles a trace's VM is drawn from.</summary>
    public ImmutableArray<KernelProfile> Profiles { get; }

    /// <summary>Events after the initial KVM_SET_CPUID2 and KVM_RUN (fewer if the MWAIT-quirk rule drops some); the last is an observation.</summary>
    public int Length { get; }

    /// <summary>Trace <paramref name="k"/> of the run with seed <paramref name="seed"/>.</summary>
    public EventTrace Generate(ulong seed, long k)
    {
        var r = new Draws(SplitMix64.ForItem(seed, k));
        var host = Hosts[r.Below(Hosts.Length)];
        var profile = Profiles[r.Below(Profiles.Length)];
        var quirks = r.Weighted(6, 1, 1, 1) switch
        {
            0 => KvmQuirks.None,
            1 => KvmQuirks.MiscEnableNoMwait,
            2 => KvmQuirks.MwaitNeverUdFaults,
            _ => KvmQuirks.MiscEnableNoMwait | KvmQuirks.MwaitNeverUdFaults,
        };
        var vm = new Vm(host, profile, quirks);
        var table = GuestTable(r, host);
        var events = ImmutableArray.CreateBuilder<VcpuEvent>(Length + 2);
        events.Add(new VcpuEvent.SetCpuid2(table));
        if (r.Below(5) != 0)
        {
            events.Add(new VcpuEvent.Run());
        }
        var body = 0;
        while (body < Length)
        {
            var changes = Math.Min(r.Below(9), Length - body - 1);
            for (var i = 0; i < changes; i++)
            {
                events.Add(Mutation(r, host, table));
            }
            events.Add(Observation(r));
            body += changes + 1;
        }
        return new EventTrace(vm, MwaitQuirkRule.Apply(vm, events.ToImmutable()));
    }

    // ---- guest tables (Properties/Generators/GuestTableGen.cs, smaller) ----

    private static CpuidTable GuestTable(Draws r, HostCpu host)
    {
        var vendor = r.Weighted(6, 2, 1, 1);
        uint[] maxLeaves = [0, 1, 7, 0xD];
        var maxLeaf = maxLeaves[r.Weighted(5, 1, 1, 1)];
        uint?[] d1Formats = [null, 0x7, 0x9, 0x1];
        var d1Eax = d1Formats[r.Weighted(3, 3, 1, 1)];
        var xcr0Mask = r.Weighted(4, 1, 1) switch
        {
            0 => ~0ul,
            1 => 0x7ul,
            _ => r.Next() | 0x3ul,
        };
        var bits = r.Next();
        var d0Ebx = (uint)r.Below(0x3000);
        var d1Ebx = (uint)r.Below(0x3000);
        var entries = new List<CpuidEntry>(host.Cpuid.Count + 1);
        foreach (var e in host.Cpuid.Entries)
        {
            entries.Add(e.Function switch
            {
                0 => WithVendor(maxLeaf == 0 ? e : e with { Eax = maxLeaf }, vendor),
                1 => e.WithBit(CpuidRegister.Ecx, DynamicBits.OsXsaveBit, (bits & 1) != 0)
                    .WithBit(CpuidRegister.Ecx, DynamicBits.MwaitBit, (bits & 2) != 0)
                    .WithBit(CpuidRegister.Edx, DynamicBits.ApicBit, (bits & 4) != 0),
                7 => e.WithBit(CpuidRegister.Ecx, DynamicBits.OsPkeBit, (bits & 8) != 0),
                0xD when e.Index == 0 => e with { Eax = e.Eax & (uint)xcr0Mask, Edx = e.Edx & (uint)(xcr0Mask >> 32), Ebx = d0Ebx },
                0xD when e.Index == 1 => e with { Eax = d1Eax ?? e.Eax, Ebx = d1Ebx },
                _ => e,
            });
        }
        var edits = r.Weighted(2, 3) == 0 ? 0 : 1 + r.Below(3);
        for (var i = 0; i < edits; i++)
        {
            Edit(entries, r.Below(8));
        }
        return CpuidTable.Of(entries);
    }

    private static CpuidEntry WithVendor(CpuidEntry leaf0, int vendor) => vendor switch
    {
        1 => leaf0 with { Ebx = Vendor.Intel.Ebx, Ecx = Vendor.Intel.Ecx, Edx = Vendor.Intel.Edx },
        2 => leaf0 with { Ebx = Vendor.Amd.Ebx, Ecx = Vendor.Amd.Ecx, Edx = Vendor.Amd.Edx },
        3 => leaf0 with { Ebx = Vendor.Hygon.Ebx, Ecx = Vendor.Hygon.Ecx, Edx = Vendor.Hygon.Edx },
        _ => leaf0,
    };

    /// <summary>One structural edit (a subset of Properties/Generators/TableEdit.cs).</summary>
    private static void Edit(List<CpuidEntry> entries, int edit)
    {
        void Change(uint function, uint index, Func<CpuidEntry, CpuidEntry> change)
        {
            var i = entries.FindIndex(e => e.Function == function && e.Index == index);
            if (i >= 0)
            {
                entries[i] = change(entries[i]);
            }
        }
        switch (edit)
        {
            case 0: // no leaf 7.0: nothing for OSPKE to update
                entries.RemoveAll(e => e.Function == 7);
                break;
            case 1: // no 0xD.1
                entries.RemoveAll(e => e.Function == 0xD && e.Index == 1);
                break;
            case 2: // 0xD.0 without the significant-index flag: it matches every sub-leaf, shadowing 0xD.1
                Change(0xD, 0, e => e with { Flags = CpuidFlags.None });
                break;
            case 3: // 0xD.1 without the significant-index flag
                Change(0xD, 1, e => e with { Flags = CpuidFlags.None });
                break;
            case 4: // a second, different leaf 1 (shadowed: KVM's first match wins)
                {
                    var i = entries.FindIndex(e => e.Function == 1);
                    if (i >= 0)
                    {
                        entries.Add(entries[i] with { Ecx = entries[i].Ecx ^ 0x0800_0008, Edx = entries[i].Edx ^ 0x200 });
                    }
                    break;
                }
            case 5: // CPUID.1:ECX.XSAVE clear: CR4.OSXSAVE becomes reserved
                Change(1, 0, e => e.WithBit(CpuidRegister.Ecx, 26, false));
                break;
            case 6: // CPUID.7.0:ECX.PKU clear: CR4.PKE becomes reserved
                Change(7, 0, e => e.WithBit(CpuidRegister.Ecx, 3, false));
                break;
            default: // CPUID.1:ECX.SSE3 clear: MISC_ENABLE.MWAIT writes refused once the quirk is off
                Change(1, 0, e => e.WithBit(CpuidRegister.Ecx, 0, false));
                break;
        }
    }

    // ---- events (Properties/Generators/EventGen.cs) ----

    private static VcpuEvent Observation(Draws r) => r.Weighted(10, 4, 2, 2) switch
    {
        0 => new VcpuEvent.Cpuid(Leaf(r), Subleaf(r)),
        1 => new VcpuEvent.GetCpuid2(r.Weighted(4, 1) == 0 ? CpuidTable.MaxEntries : r.Below(4)),
        2 => new VcpuEvent.MonitorMwait(),
        _ => new VcpuEvent.Rdmsr(r.Of(Msr.ApicBase, Msr.MiscEnable, Msr.Xss, Msr.MiscFeaturesEnables, Msr.TsxCtrl, Msr.PlatformInfo, 0x10u)),
    };

    private static VcpuEvent Mutation(Draws r, HostCpu host, CpuidTable table) =>
        r.Weighted(8, 5, 8, 2, 2, 2, 1, 1, 1, 2, 2, 3, 3, 3, 2, 1, 2) switch
        {
            0 => new VcpuEvent.MovToCr4(Cr4Value(r)),
            1 => new VcpuEvent.Xsetbv(r.Weighted(9, 1) == 0 ? 0u : 1u, Xcr0(r, host)),
            2 => Wrmsr(MsrWrite(r, host)),
            3 => new VcpuEvent.SetCpl(r.Of<byte>(0, 3)),
            4 => new VcpuEvent.EnterSmm(),
            5 => new VcpuEvent.Rsm(),
            6 => new VcpuEvent.Init(),
            7 => new VcpuEvent.Reset(),
            8 => new VcpuEvent.SevEsSyncFromGhcb(Xcr0(r, host)),
            9 => new VcpuEvent.NestedVmEntry(Cr4Value(r), MsrList(r, host, 2)),
            10 => new VcpuEvent.NestedVmExit(Cr4Value(r), MsrList(r, host, 2)),
            11 => new VcpuEvent.SetSregs(Cr4Value(r), ApicBase(r)),
            12 => new VcpuEvent.SetXcrs(Xcr0(r, host)),
            13 => new VcpuEvent.SetMsrs(MsrList(r, host, 3)),
            14 => new VcpuEvent.DisableQuirks2(QuirkMask(r)),
            15 => new VcpuEvent.Run(),
            _ => new VcpuEvent.SetCpuid2(r.Weighted(12, 2, 1) switch
            {
                0 => table, // the same table again: the hot-plug case, allowed after KVM_RUN
                1 => FlipOsXsave(table),
                _ => Oversized,
            }),
        };

    private static VcpuEvent.Wrmsr Wrmsr(MsrEntry m) => new(m.Index, m.Value);

    private static ulong Cr4Value(Draws r)
    {
        var fixedBits = r.Weighted(6, 2, 1, 1) switch
        {
            0 => LegacyCr4,
            1 => 0ul,
            2 => LegacyCr4 | Cr4.Vmxe | Cr4.Smep | Cr4.Smap,
            _ => r.Of(1ul << 15, 1ul << 19, 1ul << 27, 1ul << 28, 1ul << 40), // reserved: #GP, EINVAL
        };
        return fixedBits | r.Of(0ul, Cr4.OsXsave, Cr4.Pke, Cr4.OsXsave | Cr4.Pke);
    }

    private static ulong ApicBase(Draws r) => r.Weighted(4, 4, 1, 1, 1, 1) switch
    {
        0 => 0xFEE0_0900ul,
        1 => 0xFEE0_0100ul,
        2 => 0xFEE0_0800ul,
        3 => 0xFEE0_0000ul,
        4 => 0xFEE0_0D00ul,
        _ => r.Of(0xFEE0_0500ul, 0xFEE0_0901ul, (1ul << 45) | 0x900ul), // refused
    };

    private static ulong MiscEnable(Draws r) => r.Weighted(4, 4, 1) switch
    {
        0 => Msr.MiscEnableDefault | Msr.MiscEnableMwait,
        1 => Msr.MiscEnableDefault,
        _ => r.Of(0ul, Msr.MiscEnableMwait, Msr.MiscEnableDefault | Msr.MiscEnableEmon | Msr.MiscEnableMwait),
    };

    private static ulong Xcr0(Draws r, HostCpu host)
    {
        switch (r.Weighted(8, 1, 1))
        {
            case 0:
                {
                    ulong[] groups = [State.Xcr0.Ymm, State.Xcr0.Bndregs | State.Xcr0.Bndcsr, State.Xcr0.Avx512, State.Xcr0.Pkru, State.Xcr0.Xtile];
                    var pick = r.Next();
                    var xcr0 = State.Xcr0.Fp | State.Xcr0.Sse;
                    for (var i = 0; i < groups.Length; i++)
                    {
                        if ((pick & (1ul << i)) != 0 && (host.SupportedXcr0 & groups[i]) == groups[i])
                        {
                            xcr0 |= groups[i];
                        }
                    }
                    return (xcr0 & State.Xcr0.Avx512) != 0 ? xcr0 | State.Xcr0.Ymm : xcr0;
                }
            case 1:
                return State.Xcr0.Fp;
            default: // refused by XSETBV or KVM_SET_XCRS
                return r.Of(0ul, State.Xcr0.Fp | State.Xcr0.Ymm, 0x3ul | (1ul << 5), 0x3ul | (1ul << 40), host.SupportedXcr0 | (1ul << 63));
        }
    }

    private static ulong Xss(Draws r, HostCpu host) => r.Weighted(6, 2, 1) switch
    {
        0 => r.Next() & host.SupportedXss,
        1 => 0ul,
        _ => r.Of(1ul, 1ul << 13, 1ul << 9),
    };

    private static MsrEntry MsrWrite(Draws r, HostCpu host) => r.Weighted(4, 4, 4, 1, 1, 1) switch
    {
        0 => new MsrEntry(Msr.ApicBase, ApicBase(r)),
        1 => new MsrEntry(Msr.MiscEnable, MiscEnable(r)),
        2 => new MsrEntry(Msr.Xss, Xss(r, host)),
        3 => new MsrEntry(Msr.MiscFeaturesEnables, r.Of(0ul, 1ul, 2ul)),
        4 => new MsrEntry(Msr.TsxCtrl, r.Of(0ul, 2ul, 3ul, 4ul)),
        _ => new MsrEntry(0x10, 0),
    };

    private static ValueArray<MsrEntry> MsrList(Draws r, HostCpu host, int max)
    {
        var n = r.Below(max + 1);
        var list = ImmutableArray.CreateBuilder<MsrEntry>(n);
        for (var i = 0; i < n; i++)
        {
            list.Add(MsrWrite(r, host));
        }
        return new ValueArray<MsrEntry>(list.MoveToImmutable());
    }

    private static ulong QuirkMask(Draws r) => r.Weighted(4, 2, 1, 1) switch
    {
        0 => (ulong)KvmQuirks.MiscEnableNoMwait,
        1 => (ulong)KvmQuirks.MwaitNeverUdFaults,
        2 => (ulong)(KvmQuirks.MiscEnableNoMwait | KvmQuirks.MwaitNeverUdFaults),
        _ => r.Of(0ul, 1ul, (ulong)KvmQuirks.IgnoreGuestPat, 1ul << 20), // 1 << 20: unsupported, EINVAL
    };

    private static uint Leaf(Draws r) => r.Weighted(6, 4, 5, 2, 1, 3, 1) switch
    {
        0 => 1u,
        1 => 7u,
        2 => 0xDu,
        3 => 0u,
        4 => r.Of(0xBu, 0x8000_0000u, 0x8000_0001u, 0x8000_0008u, 0x4000_0000u),
        5 => r.Of(0x14u, 0x21u, 0x8000_0021u, 0x4000_0001u, 0x4000_0100u, 0xC000_0000u, 0x5000_0000u), // out of range
        _ => (uint)r.Next(),
    };

    private static uint Subleaf(Draws r) => r.Weighted(5, 5, 1, 1, 1) switch
    {
        0 => 0u,
        1 => 1u,
        2 => 2u,
        3 => 3u + (uint)r.Below(18),
        _ => (uint)r.Next(),
    };

    /// <summary>A table one entry over <c>KVM_MAX_CPUID_ENTRIES</c> (KVM_SET_CPUID2 fails with E2BIG).</summary>
    private static readonly CpuidTable Oversized = CpuidTable.Of(
        Enumerable.Range(0, CpuidTable.MaxEntries + 1).Select(i => CpuidEntry.Indexed(0x4000_0100, (uint)i, 0, 0, 0, 0))
    );

    private static CpuidTable FlipOsXsave(CpuidTable table)
    {
        var i = table.IndexOfFunction(1);
        return i < 0 ? table : table.SetItem(i, table[i].WithBit(CpuidRegister.Ecx, DynamicBits.OsXsaveBit, !table[i].Has(CpuidRegister.Ecx, DynamicBits.OsXsaveBit)));
    }

    /// <summary>The draws of one trace: a cursor over its own <see cref="SplitMix64"/> sequence, local to one <see cref="Generate"/> call.</summary>
    private sealed class Draws(SplitMix64 start)
    {
        private SplitMix64 rng = start;

        public ulong Next()
        {
            (var value, rng) = rng.Next();
            return value;
        }

        /// <summary>Uniform in [0, n): the high half of a 64 x 64-bit product (Lemire's multiply-shift).</summary>
        public int Below(int n) => (int)Math.BigMul(Next(), (ulong)n, out _);

        /// <summary>An index chosen with the given weights.</summary>
        public int Weighted(params ReadOnlySpan<int> weights)
        {
            var total = 0;
            foreach (var w in weights)
            {
                total += w;
            }
            var x = Below(total);
            for (var i = 0; i < weights.Length; i++)
            {
                x -= weights[i];
                if (x < 0)
                {
                    return i;
                }
            }
            throw new System.Diagnostics.UnreachableException();
        }

        public T Of<T>(params ReadOnlySpan<T> choices) => choices[Below(choices.Length)];
    }
}
