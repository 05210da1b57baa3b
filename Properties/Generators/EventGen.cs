using System.Collections.Immutable;
using CpuidFunctional.Core;
using CpuidFunctional.Core.Cpuid;
using CpuidFunctional.Core.Host;
using CpuidFunctional.Core.Model;
using CpuidFunctional.Core.State;
using CsCheck;

namespace CpuidFunctional.Properties.Generators;

/// <summary>
/// Every <see cref="VcpuEvent"/> kind, weighted towards the triggers, with valid and invalid values. Values that
/// depend on the host (XCR0 and IA32_XSS masks) and on the guest table (KVM_SET_CPUID2 again) come from
/// <see cref="Mutation(HostCpu, CpuidTable)"/>.
/// </summary>
public static class EventGen
{
    private const ulong Legacy = Cr4.Pae | Cr4.OsFxsr | Cr4.OsXmmExcpt;

    /// <summary>CR4.OSXSAVE and CR4.PKE in every combination.</summary>
    public static readonly Gen<ulong> Cr4Dynamic = Gen.OneOf(0ul, Cr4.OsXsave, Cr4.Pke, Cr4.OsXsave | Cr4.Pke);

    /// <summary>The rest of CR4: usual bits, none, VMX and SMEP/SMAP, or a reserved bit (#GP, EINVAL).</summary>
    public static readonly Gen<ulong> Cr4Static = Gen.Frequency(
        (6, Gen.Const(Legacy)),
        (2, Gen.Const(0ul)),
        (1, Gen.Const(Legacy | Cr4.Vmxe | Cr4.Smep | Cr4.Smap)),
        (1, Gen.OneOf(1ul << 15, 1ul << 19, 1ul << 27, 1ul << 28, 1ul << 40))
    );

    /// <summary>A CR4 value.</summary>
    public static readonly Gen<ulong> Cr4Value = Gen.Select(Cr4Static, Cr4Dynamic, (s, d) => s | d);

    /// <summary>IA32_APIC_BASE values: enable on and off (with and without BSP), x2APIC, and refused ones.</summary>
    public static readonly Gen<ulong> ApicBase = Gen.Frequency(
        (4, Gen.Const(0xFEE0_0900ul)),
        (4, Gen.Const(0xFEE0_0100ul)),
        (1, Gen.Const(0xFEE0_0800ul)),
        (1, Gen.Const(0xFEE0_0000ul)),
        (1, Gen.Const(0xFEE0_0D00ul)),
        (1, Gen.OneOf(0xFEE0_0500ul, 0xFEE0_0901ul, (1ul << 45) | 0x900ul))
    );

    /// <summary>IA32_MISC_ENABLE values: bit 18 on and off, plus read-only and EMON bit changes.</summary>
    public static readonly Gen<ulong> MiscEnable = Gen.Frequency(
        (4, Gen.Const(Msr.MiscEnableDefault | Msr.MiscEnableMwait)),
        (4, Gen.Const(Msr.MiscEnableDefault)),
        (1, Gen.OneOf(0ul, Msr.MiscEnableMwait, Msr.MiscEnableDefault | Msr.MiscEnableEmon | Msr.MiscEnableMwait))
    );

    /// <summary>MSR indices a guest reads.</summary>
    public static readonly Gen<uint> ReadableMsr = Gen.OneOf(
        Msr.ApicBase,
        Msr.MiscEnable,
        Msr.Xss,
        Msr.MiscFeaturesEnables,
        Msr.TsxCtrl,
        Msr.PlatformInfo,
        0x10u
    );

    /// <summary>CPUID leaves: the dynamic ones most, the rest of the table, and out-of-range leaves of each class.</summary>
    public static readonly Gen<uint> Leaf = Gen.Frequency(
        (6, Gen.Const(1u)),
        (4, Gen.Const(7u)),
        (5, Gen.Const(0xDu)),
        (2, Gen.Const(0u)),
        (1, Gen.OneOf(0xBu, 0x8000_0000u, 0x8000_0001u, 0x8000_0008u, 0x4000_0000u)),
        (3, Gen.OneOf(0x14u, 0x21u, 0x8000_0021u, 0x4000_0001u, 0x4000_0100u, 0xC000_0000u, 0x5000_0000u)),
        (1, Gen.UInt)
    );

    /// <summary>CPUID sub-leaves.</summary>
    public static readonly Gen<uint> Subleaf = Gen.Frequency(
        (5, Gen.Const(0u)),
        (5, Gen.Const(1u)),
        (1, Gen.Const(2u)),
        (1, Gen.UInt[3, 20]),
        (1, Gen.UInt)
    );

    /// <summary>KVM_CAP_DISABLE_QUIRKS2 masks: the two MWAIT quirks, others, and unsupported bits (EINVAL).</summary>
    public static readonly Gen<ulong> QuirkMask = Gen.Frequency(
        (4, Gen.Const((ulong)KvmQuirks.MiscEnableNoMwait)),
        (2, Gen.Const((ulong)KvmQuirks.MwaitNeverUdFaults)),
        (1, Gen.Const((ulong)(KvmQuirks.MiscEnableNoMwait | KvmQuirks.MwaitNeverUdFaults))),
        (1, Gen.OneOf(0ul, 1ul, (ulong)KvmQuirks.IgnoreGuestPat, 1ul << 20))
    );

    /// <summary>An observation point: CPUID, KVM_GET_CPUID2 (sometimes too small), MWAIT, RDMSR.</summary>
    public static readonly Gen<VcpuEvent> Observation = Gen.Frequency(
        (10, Gen.Select(Leaf, Subleaf, (l, s) => (VcpuEvent)new VcpuEvent.Cpuid(l, s))),
        (4, Gen.Frequency((4, Gen.Const(256)), (1, Gen.Int[0, 3])).Select(n => (VcpuEvent)new VcpuEvent.GetCpuid2(n))),
        (2, Gen.Const<VcpuEvent>(new VcpuEvent.MonitorMwait())),
        (2, ReadableMsr.Select(i => (VcpuEvent)new VcpuEvent.Rdmsr(i)))
    );

    /// <summary>XCR0 values for a host: x87|SSE plus a random choice of the host's groups, or a refused value.</summary>
    public static Gen<ulong> Xcr0(HostCpu host)
    {
        ulong[] groups = [CpuidFunctional.Core.State.Xcr0.Ymm, CpuidFunctional.Core.State.Xcr0.Bndregs | CpuidFunctional.Core.State.Xcr0.Bndcsr, CpuidFunctional.Core.State.Xcr0.Avx512, CpuidFunctional.Core.State.Xcr0.Pkru, CpuidFunctional.Core.State.Xcr0.Xtile];
        var supported = host.SupportedXcr0;
        var valid = Gen.UInt.Select(pick =>
        {
            var xcr0 = CpuidFunctional.Core.State.Xcr0.Fp | CpuidFunctional.Core.State.Xcr0.Sse;
            for (var i = 0; i < groups.Length; i++)
            {
                if ((pick & (1u << i)) != 0 && (supported & groups[i]) == groups[i])
                {
                    xcr0 |= groups[i];
                }
            }
            return (xcr0 & CpuidFunctional.Core.State.Xcr0.Avx512) != 0 ? xcr0 | CpuidFunctional.Core.State.Xcr0.Ymm : xcr0;
        });
        return Gen.Frequency(
            (8, valid),
            (1, Gen.Const(CpuidFunctional.Core.State.Xcr0.Fp)),
            (1, Gen.OneOf(0ul, CpuidFunctional.Core.State.Xcr0.Fp | CpuidFunctional.Core.State.Xcr0.Ymm, 0x3ul | (1ul << 5), 0x3ul | (1ul << 40), supported | (1ul << 63)))
        );
    }

    /// <summary>IA32_XSS values for a host: a random subset of its supervisor components, or an unsupported bit.</summary>
    public static Gen<ulong> Xss(HostCpu host) =>
        Gen.Frequency((6, Gen.ULong.Select(r => r & host.SupportedXss)), (2, Gen.Const(0ul)), (1, Gen.OneOf(1ul, 1ul << 13, 1ul << 9)));

    /// <summary>A (index, value) pair for WRMSR, KVM_SET_MSRS or an MSR-load list.</summary>
    public static Gen<MsrEntry> MsrWrite(HostCpu host) => Gen.Frequency(
        (4, ApicBase.Select(v => new MsrEntry(Msr.ApicBase, v))),
        (4, MiscEnable.Select(v => new MsrEntry(Msr.MiscEnable, v))),
        (4, Xss(host).Select(v => new MsrEntry(Msr.Xss, v))),
        (1, Gen.OneOf(0ul, 1ul, 2ul).Select(v => new MsrEntry(Msr.MiscFeaturesEnables, v))),
        (1, Gen.OneOf(0ul, 2ul, 3ul, 4ul).Select(v => new MsrEntry(Msr.TsxCtrl, v))),
        (1, Gen.Const(new MsrEntry(0x10, 0)))
    );

    /// <summary>An MSR list (KVM_SET_MSRS, VMX MSR-load areas) of up to three entries.</summary>
    public static Gen<ValueArray<MsrEntry>> MsrList(HostCpu host, int max) =>
        MsrWrite(host).Array[0, max].Select(a => new ValueArray<MsrEntry>(ImmutableArray.Create(a)));

    /// <summary>
    /// A state change (anything but an observation): every trigger source of spec §3.1, mode switches, nested
    /// transitions, ioctls, KVM_RUN and KVM_SET_CPUID2 (usually the same table again, the hot-plug case).
    /// </summary>
    public static Gen<VcpuEvent> Mutation(HostCpu host, CpuidTable table)
    {
        var xcr0 = Xcr0(host);
        var msr = MsrWrite(host);
        return Gen.Frequency(
            (8, Cr4Value.Select(v => (VcpuEvent)new VcpuEvent.MovToCr4(v))),
            (5, Gen.Select(Gen.Frequency((9, Gen.Const(0u)), (1, Gen.Const(1u))), xcr0, (i, v) => (VcpuEvent)new VcpuEvent.Xsetbv(i, v))),
            (8, msr.Select(m => (VcpuEvent)new VcpuEvent.Wrmsr(m.Index, m.Value))),
            (2, Gen.OneOf<byte>(0, 3).Select(c => (VcpuEvent)new VcpuEvent.SetCpl(c))),
            (2, Gen.Const<VcpuEvent>(new VcpuEvent.EnterSmm())),
            (2, Gen.Const<VcpuEvent>(new VcpuEvent.Rsm())),
            (1, Gen.Const<VcpuEvent>(new VcpuEvent.Init())),
            (1, Gen.Const<VcpuEvent>(new VcpuEvent.Reset())),
            (1, xcr0.Select(v => (VcpuEvent)new VcpuEvent.SevEsSyncFromGhcb(v))),
            (2, Gen.Select(Cr4Value, MsrList(host, 2), (c, l) => (VcpuEvent)new VcpuEvent.NestedVmEntry(c, l))),
            (2, Gen.Select(Cr4Value, MsrList(host, 2), (c, l) => (VcpuEvent)new VcpuEvent.NestedVmExit(c, l))),
            (3, Gen.Select(Cr4Value, ApicBase, (c, a) => (VcpuEvent)new VcpuEvent.SetSregs(c, a))),
            (3, xcr0.Select(v => (VcpuEvent)new VcpuEvent.SetXcrs(v))),
            (3, MsrList(host, 3).Select(l => (VcpuEvent)new VcpuEvent.SetMsrs(l))),
            (2, QuirkMask.Select(m => (VcpuEvent)new VcpuEvent.DisableQuirks2(m))),
            (1, Gen.Const<VcpuEvent>(new VcpuEvent.Run())),
            (2, SetCpuid2Again(host, table))
        );
    }

    /// <summary>A table one entry over <c>KVM_MAX_CPUID_ENTRIES</c> (KVM_SET_CPUID2 fails with E2BIG).</summary>
    public static readonly CpuidTable Oversized = CpuidTable.Of(
        Enumerable.Range(0, CpuidTable.MaxEntries + 1).Select(i => CpuidEntry.Indexed(0x4000_0100, (uint)i, 0, 0, 0, 0))
    );

    /// <summary>
    /// KVM_SET_CPUID2 once more: the same table (must succeed after KVM_RUN), one with a dynamic bit flipped, another
    /// table, or too many entries.
    /// </summary>
    public static Gen<VcpuEvent> SetCpuid2Again(HostCpu host, CpuidTable table) => Gen.Frequency(
        (12, Gen.Const<VcpuEvent>(new VcpuEvent.SetCpuid2(table))),
        (2, Gen.Const<VcpuEvent>(new VcpuEvent.SetCpuid2(FlipOsXsave(table)))),
        (2, GuestTableGen.For(host).Select(t => (VcpuEvent)new VcpuEvent.SetCpuid2(t))),
        (1, Gen.Const<VcpuEvent>(new VcpuEvent.SetCpuid2(Oversized)))
    );

    private static CpuidTable FlipOsXsave(CpuidTable table)
    {
        var i = table.IndexOfFunction(1);
        return i < 0 ? table : table.SetItem(i, table[i].WithBit(CpuidRegister.Ecx, 27, !table[i].Has(CpuidRegister.Ecx, 27)));
    }
}
