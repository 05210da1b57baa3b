using CpuidFunctional.Properties.Generators;
using CsCheck;

namespace CpuidFunctional.Properties.Equivalence;

/// <summary>
/// CsCheck's Check.Equality contract (Equals, IEquatable and GetHashCode consistent; declared fields really
/// compared) for every state record. The properties compare states and observations by value, so a record that
/// compares a table or list by reference would make them vacuous.
/// </summary>
public class EqualityContractTests
{
    [Fact]
    public void CpuidEntry_compares_every_field() =>
        StateGen.Entry.Equality(f => f
            .Compared((e, x) => e with { Function = x }, Gen.UInt)
            .Compared((e, x) => e with { Index = x }, Gen.UInt)
            .Compared((e, x) => e with { Flags = x }, Gen.OneOf(CpuidFlags.None, CpuidFlags.SignificantIndex))
            .Compared((e, x) => e with { Eax = x }, Gen.UInt)
            .Compared((e, x) => e with { Ebx = x }, Gen.UInt)
            .Compared((e, x) => e with { Ecx = x }, Gen.UInt)
            .Compared((e, x) => e with { Edx = x }, Gen.UInt));

    [Fact]
    public void CpuidTable_compares_by_content() => GuestTableGen.Table.Equality();

    [Fact]
    public void XsaveLayout_compares_by_content() => StateGen.Layout.Equality();

    [Fact]
    public void HostCpu_compares_by_name_and_cpuid() => HostGen.Host.Equality();

    [Fact]
    public void ValueArray_compares_by_content() => StateGen.MsrList.Equality();

    [Fact]
    public void Vcpu_compares_every_field() =>
        StateGen.Vcpu.Equality(f => f
            .Compared((v, x) => v with { Cr4 = x }, Gen.UInt.Select(u => (ulong)u))
            .Compared((v, x) => v with { Xcr0 = x }, Gen.ULong)
            .Compared((v, x) => v with { Rare = v.Rare with { Xss = x } }, Gen.ULong)
            .Compared((v, x) => v with { Rare = v.Rare with { ApicBase = x } }, Gen.ULong)
            .Compared((v, x) => v with { Rare = v.Rare with { MiscEnable = x } }, Gen.ULong)
            .Compared((v, x) => v with { Rare = v.Rare with { MiscFeaturesEnables = x } }, Gen.ULong)
            .Compared((v, x) => v with { Rare = v.Rare with { TsxCtrl = x } }, Gen.ULong)
            .Compared((v, x) => v with { Rare = v.Rare with { ArchCapabilitiesTsxCtrl = x } }, Gen.Bool)
            .Compared((v, x) => v with { Cpl = x }, Gen.Byte[0, 3])
            .Compared((v, x) => v with { Rare = v.Rare with { InSmm = x } }, Gen.Bool)
            .Compared((v, x) => v with { Rare = v.Rare with { SmramCr4 = x } }, Gen.ULong)
            .Compared((v, x) => v with { Rare = v.Rare with { SmramCpl = x } }, Gen.Byte[0, 3])
            .Compared((v, x) => v with { HasRun = x }, Gen.Bool)
            .Compared((v, x) => v with { GuestMode = x }, Gen.Bool)
            .Compared((v, x) => v with { Nested = x }, Gen.Select(Gen.Byte[0, 3], Gen.ULong, (i, cr4) => (NestedState?)new NestedSvm((Vmcb12Intercepts)i, cr4)))
            .Compared((v, x) => v with { Nested = x }, Gen.Select(Gen.ULong, Gen.ULong, (mask, shadow) => (NestedState?)new NestedVmx(mask, shadow, 0)))
            .Compared((v, x) => v with { Cpuid = x }, GuestTableGen.Table)
            .Compared((v, x) => v with { Caps = x }, Gen.Byte[0, 15].Select(b => (DynamicCaps)b))
            .Compared((v, x) => v with { CpuidDynamicBitsDirty = x }, Gen.Bool));

    [Fact]
    public void Vm_compares_every_field() =>
        StateGen.Vm.Equality(f => f
            .Compared((v, x) => v with { Host = x }, HostGen.Host)
            .Compared((v, x) => v with { Profile = x }, TraceGen.Profile)
            .Compared((v, x) => v with { DisabledQuirks = x }, TraceGen.InitialQuirks)
            .Compared((v, x) => v with { SupportedQuirks = x }, Gen.OneOf(KvmQuirks.Supported6_18, KvmQuirks.None))
            .Compared((v, x) => v with { XcompGuestPermRequested = x }, Gen.Bool));

    [Fact]
    public void KvmState_compares_vm_and_vcpu() =>
        StateGen.State.Equality(f => f
            .Compared((s, x) => s with { Vm = x }, StateGen.Vm)
            .Compared((s, x) => s with { Vcpu = x }, StateGen.Vcpu));

    [Fact]
    public void VcpuEvent_cases_compare_by_value() => StateGen.Event.Equality();

    [Fact]
    public void Observation_cases_compare_by_value() => StateGen.Observation.Equality();
}
