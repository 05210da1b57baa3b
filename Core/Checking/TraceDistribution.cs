using System.Collections.Immutable;
using CpuidFunctional.Core.Cpuid;
using CpuidFunctional.Core.Dynamic;
using CpuidFunctional.Core.Host;
using CpuidFunctional.Core.Model;
using CpuidFunctional.Core.State;

namespace CpuidFunctional.Core.Checking;

/// <summary>
/// What a random trace is, defined once for <c>cpuidf random</c> (<see cref="RandomTraceGenerator"/>) and the test
/// suite's CsCheck generators: a VM (random disabled quirks), a guest table derived from the host (random userspace
/// values in the dynamic outputs, vendor, max basic leaf, 0xD.1 format, XCR0 restriction, up to four
/// <see cref="TableEdit"/>s), KVM_SET_CPUID2 of it, KVM_RUN four times in five, then segments of state changes each
/// followed by one observation, so several changes are pending when a consumer looks. Every <see cref="VcpuEvent"/>
/// kind, weighted towards the triggers, with valid and refused values. Pure: every choice comes from the
/// <see cref="Draws"/>; the MWAIT-quirk rule is the caller's to apply (<see cref="MwaitQuirkRule"/>).
/// </summary>
public static class TraceDistribution
{
    private const ulong LegacyCr4 = Cr4.Pae | Cr4.OsFxsr | Cr4.OsXmmExcpt;

    /// <summary>A table one entry over <c>KVM_MAX_CPUID_ENTRIES</c> (KVM_SET_CPUID2 fails with E2BIG).</summary>
    public static CpuidTable Oversized { get; } = CpuidTable.Of(
        Enumerable.Range(0, CpuidTable.MaxEntries + 1).Select(i => CpuidEntry.Indexed(0x4000_0100, (uint)i, 0, 0, 0, 0))
    );

    /// <summary>A trace on <paramref name="host"/> under <paramref name="profile"/>, its body shaped by <paramref name="shape"/>.</summary>
    public static EventTrace Trace(Draws r, HostCpu host, KernelProfile profile, TraceShape shape)
    {
        var vm = new Vm(host, profile, InitialQuirks(r));
        var table = GuestTable(r, host);
        var events = ImmutableArray.CreateBuilder<VcpuEvent>();
        events.Add(new VcpuEvent.SetCpuid2(table));
        if (r.Weighted(4, 1) == 0)
        {
            events.Add(new VcpuEvent.Run());
        }
        switch (shape)
        {
            case TraceShape.Events(var length):
                for (var body = 0; body < length;)
                {
                    var changes = Math.Min(r.Below(9), length - body - 1);
                    Segment(r, host, table, changes, events);
                    body += changes + 1;
                }
                break;
            case TraceShape.Segments(var maxSegments, var minChanges, var maxChanges):
                for (var segments = r.Between(1, maxSegments); segments > 0; segments--)
                {
                    Segment(r, host, table, r.Between(minChanges, maxChanges), events);
                }
                break;
            default:
                throw new System.Diagnostics.UnreachableException();
        }
        return new EventTrace(vm, new ValueArray<VcpuEvent>(events.ToImmutable()));
    }

    private static void Segment(Draws r, HostCpu host, CpuidTable table, int changes, ImmutableArray<VcpuEvent>.Builder events)
    {
        for (var i = 0; i < changes; i++)
        {
            events.Add(Mutation(r, host, table));
        }
        events.Add(Observation(r));
    }

    /// <summary>Quirks disabled when the VM is created: none most of the time, then each MWAIT quirk and both.</summary>
    public static KvmQuirks InitialQuirks(Draws r) => r.Weighted(6, 1, 1, 1) switch
    {
        0 => KvmQuirks.None,
        1 => KvmQuirks.MiscEnableNoMwait,
        2 => KvmQuirks.MwaitNeverUdFaults,
        _ => KvmQuirks.MiscEnableNoMwait | KvmQuirks.MwaitNeverUdFaults,
    };

    // ---- guest tables ----

    /// <summary>
    /// A guest table for <paramref name="host"/>: the host's leaves with random userspace values in the dynamic bits
    /// (OSXSAVE, MWAIT, APIC, OSPKE; the two 0xD EBX sizes), then a vendor (the host's, Intel, AMD, Hygon), a max basic
    /// leaf (the host's, 1, 7 or 0xD), CPUID.0xD.1:EAX (the host's, XSAVEC only, XSAVES only, neither), a mask on the
    /// XCR0 set, and most tables with one to four structural edits.
    /// </summary>
    public static CpuidTable GuestTable(Draws r, HostCpu host)
    {
        var vendor = r.Weighted(6, 2, 1, 1);
        var maxLeaf = r.Weighted(5, 1, 1, 1) switch
        {
            0 => 0u,
            1 => 1u,
            2 => 7u,
            _ => 0xDu,
        };
        var d1Eax = r.Weighted(3, 3, 1, 1) switch
        {
            0 => default(uint?),
            1 => 0x7u,
            2 => 0x9u,
            _ => 0x1u,
        };
        var xcr0Mask = r.Weighted(4, 1, 1) switch
        {
            0 => ~0ul,
            1 => 0x7ul,
            _ => r.Next() | 0x3ul,
        };
        var bits = (uint)r.Next();
        var d0Ebx = (uint)r.Between(0, 0x3000);
        var d1Ebx = (uint)r.Between(0, 0x3000);
        var entries = new List<CpuidEntry>(host.Cpuid.Count + 2);
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
        var edits = r.Weighted(2, 3) == 0 ? 0 : r.Between(1, 4);
        for (var i = 0; i < edits; i++)
        {
            Apply(entries, (TableEdit)r.Below(EditCount), bits);
        }
        return CpuidTable.Of(entries);
    }

    private static readonly int EditCount = Enum.GetValues<TableEdit>().Length;

    private static CpuidEntry WithVendor(CpuidEntry leaf0, int vendor) => vendor switch
    {
        1 => leaf0 with { Ebx = Vendor.Intel.Ebx, Ecx = Vendor.Intel.Ecx, Edx = Vendor.Intel.Edx },
        2 => leaf0 with { Ebx = Vendor.Amd.Ebx, Ecx = Vendor.Amd.Ecx, Edx = Vendor.Amd.Edx },
        3 => leaf0 with { Ebx = Vendor.Hygon.Ebx, Ecx = Vendor.Hygon.Ecx, Edx = Vendor.Hygon.Edx },
        _ => leaf0,
    };

    private static void Apply(List<CpuidEntry> entries, TableEdit edit, uint noise)
    {
        int Find(uint function, uint index) => entries.FindIndex(e => e.Function == function && e.Index == index);
        void Edit(uint function, uint index, Func<CpuidEntry, CpuidEntry> change)
        {
            var i = Find(function, index);
            if (i >= 0)
            {
                entries[i] = change(entries[i]);
            }
        }
        switch (edit)
        {
            case TableEdit.DropLeaf1:
                entries.RemoveAll(e => e.Function == 1);
                break;
            case TableEdit.DropLeaf7:
                entries.RemoveAll(e => e.Function == 7);
                break;
            case TableEdit.DropD0:
                entries.RemoveAll(e => e.Function == 0xD && e.Index == 0);
                break;
            case TableEdit.DropD1:
                entries.RemoveAll(e => e.Function == 0xD && e.Index == 1);
                break;
            case TableEdit.UnflagD0:
                Edit(0xD, 0, e => e with { Flags = CpuidFlags.None });
                break;
            case TableEdit.UnflagD1:
                Edit(0xD, 1, e => e with { Flags = CpuidFlags.None });
                break;
            case TableEdit.UnflagLeaf7:
                Edit(7, 0, e => e with { Flags = CpuidFlags.None });
                break;
            case TableEdit.SingleUnflaggedD:
                {
                    var i = entries.FindIndex(e => e.Function == 0xD);
                    if (i >= 0)
                    {
                        var first = entries[i] with { Flags = CpuidFlags.None, Index = 0 };
                        // The merged entry's EAX decides whether the 0xD.1 rewrite also hits it (XCR0 bit 1 or 3).
                        first = (noise & 16) != 0 ? first with { Eax = first.Eax | 0x8 } : first;
                        entries.RemoveAll(e => e.Function == 0xD);
                        entries.Insert(Math.Min(i, entries.Count), first);
                    }
                    break;
                }
            case TableEdit.DuplicateLeaf1:
                {
                    var i = entries.FindIndex(e => e.Function == 1);
                    if (i >= 0)
                    {
                        entries.Add(entries[i] with { Ecx = entries[i].Ecx ^ 0x0800_0008, Edx = entries[i].Edx ^ 0x200 });
                    }
                    break;
                }
            case TableEdit.DuplicateD1:
                {
                    var i = Find(0xD, 1);
                    if (i >= 0)
                    {
                        entries.Add(entries[i] with { Eax = entries[i].Eax ^ 0xA, Ebx = 0x1234 });
                    }
                    break;
                }
            case TableEdit.UnflaggedDFirst:
                {
                    var i = entries.FindIndex(e => e.Function == 0xD);
                    if (i >= 0)
                    {
                        entries.Insert(i, entries[i] with { Flags = CpuidFlags.None, Index = 0, Eax = entries[i].Eax | 0x2 });
                    }
                    break;
                }
            case TableEdit.ClearXsave:
                Edit(1, 0, e => e.WithBit(CpuidRegister.Ecx, 26, false));
                break;
            case TableEdit.ClearPku:
                Edit(7, 0, e => e.WithBit(CpuidRegister.Ecx, 3, false));
                break;
            case TableEdit.ClearSse3:
                Edit(1, 0, e => e.WithBit(CpuidRegister.Ecx, 0, false));
                break;
            case TableEdit.AddLeafB:
                if (Find(0xB, 0) < 0)
                {
                    entries.Add(CpuidEntry.Indexed(0xB, 0, 1, 1, 0x100, 0));
                    entries.Add(CpuidEntry.Indexed(0xB, 1, 4, 8, 0x201, 0));
                }
                break;
            case TableEdit.AddHypervisorLeaves:
                if (Find(0x4000_0000, 0) < 0)
                {
                    entries.Add(CpuidEntry.Plain(0x4000_0000, 0x4000_0001, 0x4B4D564B, 0x564B4D56, 0x4D));
                    entries.Add(CpuidEntry.Plain(0x4000_0001, 0x01007AFB, 0, 0, 0));
                }
                break;
            case TableEdit.DropExtendedBase:
                entries.RemoveAll(e => e.Function == 0x8000_0000);
                break;
            case TableEdit.BadVirtualAddressWidth:
                Edit(0x8000_0008, 0, e => e with { Eax = (e.Eax & ~0xFF00u) | (40u << 8) });
                break;
            default:
                throw new System.Diagnostics.UnreachableException($"unhandled {edit}");
        }
    }

    // ---- events ----

    /// <summary>An observation point: CPUID, KVM_GET_CPUID2 (sometimes too small), MWAIT, RDMSR.</summary>
    public static VcpuEvent Observation(Draws r) => r.Weighted(10, 4, 2, 2) switch
    {
        0 => new VcpuEvent.Cpuid(Leaf(r), Subleaf(r)),
        1 => new VcpuEvent.GetCpuid2(r.Weighted(4, 1) == 0 ? CpuidTable.MaxEntries : r.Between(0, 3)),
        2 => new VcpuEvent.MonitorMwait(),
        _ => new VcpuEvent.Rdmsr(r.Of(Msr.ApicBase, Msr.MiscEnable, Msr.Xss, Msr.MiscFeaturesEnables, Msr.TsxCtrl, Msr.PlatformInfo, Msr.NotKnownToKvm)),
    };

    /// <summary>
    /// A state change (anything but an observation): every trigger source of spec §3.1, mode switches, nested
    /// transitions, ioctls, KVM_RUN and KVM_SET_CPUID2 again (usually the same table, the hot-plug case; sometimes
    /// with OSXSAVE flipped, another table for the host, or too many entries).
    /// </summary>
    public static VcpuEvent Mutation(Draws r, HostCpu host, CpuidTable table) =>
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
            8 => new VcpuEvent.SevEsSyncFromGhcb(Xcr0(r, host), r.Weighted(1, 1) == 0 ? null : Xss(r, host)),
            // Nested transitions of the host's vendor: SVM on AMD and Hygon hosts, VMX elsewhere.
            9 when IsSvmHost(host) => new VcpuEvent.NestedSvmVmrun(NestedCr4Value(r), (Vmcb12Intercepts)r.Between(0, 3)),
            10 when IsSvmHost(host) => new VcpuEvent.NestedSvmVmexit(),
            9 => VmEntry(r, host),
            10 => new VcpuEvent.NestedVmExit(NestedCr4Value(r), MsrList(r, host, 2)),
            11 => new VcpuEvent.SetSregs(Cr4Value(r), ApicBase(r)),
            12 => SetXcrs(r, host),
            13 => new VcpuEvent.SetMsrs(MsrList(r, host, 3)),
            14 => new VcpuEvent.DisableQuirks2(QuirkMask(r)),
            15 => new VcpuEvent.Run(),
            _ => new VcpuEvent.SetCpuid2(r.Weighted(12, 2, 2, 1) switch
            {
                0 => table,
                1 => FlipOsXsave(table),
                2 => GuestTable(r, host),
                _ => Oversized,
            }),
        };

    private static VcpuEvent.Wrmsr Wrmsr(MsrEntry m) => new(m.Index, m.Value);

    /// <summary>
    /// A VMX entry: vmcs12's GUEST_CR4 and MSR-load list and, one time in four, CR4 bits L1 owns (OSXSAVE, PKE or
    /// both) with a read shadow, so that <see cref="Kvm.NestedVmxL1WantsExit"/> gives some of L2's CR4 writes to L1.
    /// </summary>
    private static VcpuEvent.NestedVmEntry VmEntry(Draws r, HostCpu host)
    {
        var entry = new VcpuEvent.NestedVmEntry(NestedCr4Value(r), MsrList(r, host, 2));
        if (r.Weighted(3, 1) == 0)
        {
            return entry;
        }
        var mask = r.Of(Cr4.OsXsave, Cr4.Pke, Cr4.OsXsave | Cr4.Pke);
        return entry with { Cr4GuestHostMask = mask, Cr4ReadShadow = r.Of(0ul, Cr4.OsXsave, Cr4.Pke, Cr4.OsXsave | Cr4.Pke) & mask };
    }

    /// <summary>Whether the host's vendor runs nested SVM (AMD, Hygon) rather than VMX.</summary>
    private static bool IsSvmHost(HostCpu host) => host.IsAmdOrHygon;

    /// <summary>
    /// A CR4 a nested transition loads: the same draws as <see cref="Cr4Value"/>, without bits 63:32
    /// (<see cref="Cr4.UpperHalf"/>: KVM's consistency checks refuse them before the transition).
    /// </summary>
    private static ulong NestedCr4Value(Draws r) => Cr4Value(r) & ~Cr4.UpperHalf;

    /// <summary>A CR4 value: usual bits, none, VMX with SMEP/SMAP, or a reserved bit (#GP, EINVAL); OSXSAVE and PKE in every combination.</summary>
    private static ulong Cr4Value(Draws r)
    {
        var fixedBits = r.Weighted(6, 2, 1, 1) switch
        {
            0 => LegacyCr4,
            1 => 0ul,
            2 => LegacyCr4 | Cr4.Vmxe | Cr4.Smep | Cr4.Smap,
            _ => r.Of(1ul << 15, 1ul << 19, 1ul << 27, 1ul << 28, 1ul << 40),
        };
        return fixedBits | r.Of(0ul, Cr4.OsXsave, Cr4.Pke, Cr4.OsXsave | Cr4.Pke);
    }

    /// <summary>IA32_APIC_BASE: enable on and off (with and without BSP), x2APIC, and refused values.</summary>
    private static ulong ApicBase(Draws r) => r.Weighted(4, 4, 1, 1, 1, 1) switch
    {
        0 => 0xFEE0_0900ul,
        1 => 0xFEE0_0100ul,
        2 => 0xFEE0_0800ul,
        3 => 0xFEE0_0000ul,
        4 => 0xFEE0_0D00ul,
        _ => r.Of(0xFEE0_0500ul, 0xFEE0_0901ul, (1ul << 45) | 0x900ul),
    };

    /// <summary>IA32_MISC_ENABLE: bit 18 on and off, plus read-only and EMON bit changes.</summary>
    private static ulong MiscEnable(Draws r) => r.Weighted(4, 4, 1) switch
    {
        0 => Msr.MiscEnableDefault | Msr.MiscEnableMwait,
        1 => Msr.MiscEnableDefault,
        _ => r.Of(0ul, Msr.MiscEnableMwait, Msr.MiscEnableDefault | Msr.MiscEnableEmon | Msr.MiscEnableMwait),
    };

    /// <summary>XCR0 for a host: x87|SSE plus a random choice of the host's groups, x87 alone, or a refused value.</summary>
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

    /// <summary>
    /// IA32_XSS for a host: a random subset of the CET components (the only bits KVM supports, from 6.18) or of the
    /// host's supervisor components, none, or an unsupported bit.
    /// </summary>
    private static ulong Xss(Draws r, HostCpu host) => r.Weighted(4, 3, 2, 1) switch
    {
        0 => r.Next() & host.SupportedXss & State.Xss.CetAll,
        1 => r.Next() & host.SupportedXss,
        2 => 0ul,
        _ => r.Of(1ul, 1ul << 13, 1ul << 9),
    };

    /// <summary>An (index, value) pair for WRMSR, KVM_SET_MSRS or an MSR-load list.</summary>
    private static MsrEntry MsrWrite(Draws r, HostCpu host) => r.Weighted(4, 4, 4, 1, 1, 1) switch
    {
        0 => new MsrEntry(Msr.ApicBase, ApicBase(r)),
        1 => new MsrEntry(Msr.MiscEnable, MiscEnable(r)),
        2 => new MsrEntry(Msr.Xss, Xss(r, host)),
        3 => new MsrEntry(Msr.MiscFeaturesEnables, r.Of(0ul, 1ul, 2ul)),
        4 => new MsrEntry(Msr.TsxCtrl, r.Of(0ul, 2ul, 3ul, 4ul)),
        _ => new MsrEntry(Msr.NotKnownToKvm, 0),
    };

    /// <summary>
    /// KVM_SET_XCRS: mostly one XCR0 entry (what a VMM restoring a vCPU passes), now and then a list KVM reads its own
    /// way: an XCR1 entry before XCR0, two XCR0 entries (only the first is set), none for XCR0 (0, nothing set), more
    /// than KVM_MAX_XCRS entries or a flag (both EINVAL).
    /// </summary>
    private static VcpuEvent.SetXcrs SetXcrs(Draws r, HostCpu host)
    {
        static VcpuEvent.SetXcrs List(params XcrEntry[] entries) => new(new ValueArray<XcrEntry>([.. entries]));
        return r.Weighted(12, 1, 1, 1, 1, 1) switch
        {
            0 => new(Xcr0(r, host)),
            1 => List(new XcrEntry(1, r.Next() & 3), new XcrEntry(0, Xcr0(r, host))),
            2 => List(new XcrEntry(0, Xcr0(r, host)), new XcrEntry(0, Xcr0(r, host))),
            3 => r.Weighted(1, 1) == 0 ? List() : List(new XcrEntry(1, 1)),
            4 => List([.. Enumerable.Repeat(new XcrEntry(0, Xcr0(r, host)), State.Xcr0.KvmMaxXcrs + 1)]),
            _ => new(Xcr0(r, host)) { Flags = 1u << r.Between(0, 31) },
        };
    }

    /// <summary>An MSR list (KVM_SET_MSRS, VMX MSR-load areas) of up to <paramref name="max"/> entries.</summary>
    private static ValueArray<MsrEntry> MsrList(Draws r, HostCpu host, int max)
    {
        var n = r.Between(0, max);
        var list = ImmutableArray.CreateBuilder<MsrEntry>(n);
        for (var i = 0; i < n; i++)
        {
            list.Add(MsrWrite(r, host));
        }
        return new ValueArray<MsrEntry>(list.MoveToImmutable());
    }

    /// <summary>KVM_CAP_DISABLE_QUIRKS2 masks: the two MWAIT quirks, others, and unsupported bits (EINVAL).</summary>
    private static ulong QuirkMask(Draws r) => r.Weighted(4, 2, 1, 1) switch
    {
        0 => (ulong)KvmQuirks.MiscEnableNoMwait,
        1 => (ulong)KvmQuirks.MwaitNeverUdFaults,
        2 => (ulong)(KvmQuirks.MiscEnableNoMwait | KvmQuirks.MwaitNeverUdFaults),
        _ => r.Of(0ul, 1ul, (ulong)KvmQuirks.IgnoreGuestPat, 1ul << 20),
    };

    /// <summary>CPUID leaves: the dynamic ones most, the rest of the table, and out-of-range leaves of each class.</summary>
    private static uint Leaf(Draws r) => r.Weighted(6, 4, 5, 2, 1, 3, 1) switch
    {
        0 => 1u,
        1 => 7u,
        2 => 0xDu,
        3 => 0u,
        4 => r.Of(0xBu, 0x8000_0000u, 0x8000_0001u, 0x8000_0008u, 0x4000_0000u),
        5 => r.Of(0x14u, 0x21u, 0x8000_0021u, 0x4000_0001u, 0x4000_0100u, 0xC000_0000u, 0x5000_0000u),
        _ => (uint)r.Next(),
    };

    private static uint Subleaf(Draws r) => r.Weighted(5, 5, 1, 1, 1) switch
    {
        0 => 0u,
        1 => 1u,
        2 => 2u,
        3 => (uint)r.Between(3, 20),
        _ => (uint)r.Next(),
    };

    private static CpuidTable FlipOsXsave(CpuidTable table)
    {
        var i = table.IndexOfFunction(1);
        return i < 0 ? table : table.SetItem(i, table[i].WithBit(CpuidRegister.Ecx, DynamicBits.OsXsaveBit, !table[i].Has(CpuidRegister.Ecx, DynamicBits.OsXsaveBit)));
    }
}
