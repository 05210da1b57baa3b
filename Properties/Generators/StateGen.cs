using System.Collections.Immutable;
using CpuidFunctional.Core.Checking;
using CsCheck;

namespace CpuidFunctional.Properties.Generators;

/// <summary>Arbitrary values of every state record, for equality contracts (not necessarily reachable states).</summary>
public static class StateGen
{
    /// <summary>A CPUID entry with small function and index numbers (so equal pairs are common) and random registers.</summary>
    public static readonly Gen<CpuidEntry> Entry = Gen.Select(
        Gen.UInt[0, 0xD],
        Gen.UInt[0, 3],
        Gen.OneOf(CpuidFlags.None, CpuidFlags.SignificantIndex),
        Gen.UInt,
        Gen.UInt,
        Gen.UInt,
        Gen.UInt,
        (f, i, flags, a, b, c, d) => new CpuidEntry(f, i, flags, a, b, c, d)
    );

    /// <summary>An XSAVE layout.</summary>
    public static readonly Gen<XsaveLayout> Layout = HostGen.RandomComponents.Select(XsaveLayout.Of);

    /// <summary>A VM.</summary>
    public static readonly Gen<Vm> Vm = Gen.Select(
        HostGen.Host,
        TraceGen.Profile,
        TraceGen.InitialQuirks,
        Gen.OneOf(KvmQuirks.Supported6_18, KvmQuirks.Supported6_18 | KvmQuirks.IgnoreGuestPat),
        Gen.Bool,
        (h, p, q, s, perm) => new Vm(h, p, q, s) { XcompGuestPermRequested = perm }
    );

    /// <summary>A vCPU with every field random.</summary>
    public static readonly Gen<Vcpu> Vcpu = Gen.Select(
            Gen.Select(Gen.ULong, Gen.ULong, Gen.ULong, Gen.ULong, Gen.ULong, Gen.ULong, Gen.ULong),
            Gen.Select(Gen.Byte[0, 3], Gen.Bool, Gen.ULong, Gen.Byte[0, 3], Gen.Bool, Gen.Bool),
            Gen.Select(GuestTableGen.Table, Gen.Byte[0, 15].Select(b => (DynamicCaps)b), Gen.Bool)
        )
        .Select((regs, modes, cpuid) => new Vcpu
        {
            Cr4 = regs.Item1 & ~Cr4.UpperHalf, // a vCPU never holds bits 63:32
            Xcr0 = regs.Item2,
            Rare = new VcpuRare(regs.Item5, regs.Item6, regs.Item7, modes.Item2, modes.Item3 & ~Cr4.UpperHalf, modes.Item4, GuestCaps.None) { ApicBase = regs.Item4, Xss = regs.Item3 },
            Cpl = modes.Item1,
            HasRun = modes.Item5,
            GuestMode = modes.Item6,
            Cpuid = cpuid.Item1,
            Caps = cpuid.Item2,
            CpuidDynamicBitsDirty = cpuid.Item3,
        });

    /// <summary>A whole state.</summary>
    public static readonly Gen<KvmState> State = Gen.Select(Vm, Vcpu, (vm, v) => new KvmState(vm, v));

    /// <summary>An MSR list.</summary>
    public static readonly Gen<ValueArray<MsrEntry>> MsrList = Gen.Select(Gen.UInt[0x1A0, 0x1A2], Gen.ULong[0, 3], (i, v) => new MsrEntry(i, v))
        .Array[0, 3]
        .Select(a => new ValueArray<MsrEntry>(ImmutableArray.Create(a)));

    /// <summary>Any event, with host- and table-dependent values.</summary>
    public static readonly Gen<VcpuEvent> Event = GuestTableGen.HostAndTable.SelectMany((host, table) =>
        DrawsGen.From(r => r.Weighted(3, 1) == 0 ? TraceDistribution.Mutation(r, host, table) : TraceDistribution.Observation(r)));

    /// <summary>Any observation.</summary>
    public static readonly Gen<Observation> Observation = Gen.Frequency(
        (3, Gen.Select(Gen.UInt[0, 2], Gen.UInt[0, 2], Gen.UInt[0, 3], Gen.UInt[0, 3], Gen.UInt[0, 3], Gen.UInt[0, 3],
            (l, s, a, b, c, d) => (Observation)new Observation.CpuidResult(l, s, a, b, c, d))),
        (2, GuestTableGen.Table.Select(t => (Observation)new Observation.Cpuid2(t))),
        (1, Gen.OneOf(X86Exception.GP, X86Exception.UD).Select(x => (Observation)new Observation.Fault(x))),
        (1, Gen.OneOf(Errno.EINVAL, Errno.E2BIG).Select(x => (Observation)new Observation.IoctlError(x))),
        (1, Gen.Int[0, 3].Select(n => (Observation)new Observation.IoctlDone(n))),
        (1, Gen.Select(Gen.UInt[0x1A0, 0x1A1], Gen.ULong[0, 3], (i, v) => (Observation)new Observation.MsrValue(i, v))),
        (1, Gen.Const<Observation>(new Observation.MwaitNop())),
        (1, Gen.UInt[1, 3].Select(q => (Observation)new Observation.VmEntryMsrLoadFailed(q))),
        (1, Gen.UInt[1, 5].Select(i => (Observation)new Observation.VmxAbort(i)))
    );
}
