using CpuidFunctional.Core.Cpuid;
using CpuidFunctional.Core.Model;
using CpuidFunctional.Core.State;

namespace CpuidFunctional.Core.Dynamic;

/// <summary>
/// The six dynamic CPUID outputs and <c>kvm_update_cpuid_runtime</c> (spec §1): one pure function from the
/// current state and a table to the rewritten table.
/// </summary>
public static class DynamicBits
{
    /// <summary>CPUID.1:ECX bit 3, MONITOR/MWAIT.</summary>
    public const int MwaitBit = 3;

    /// <summary>CPUID.1:ECX bit 27, OSXSAVE.</summary>
    public const int OsXsaveBit = 27;

    /// <summary>CPUID.1:EDX bit 9, APIC.</summary>
    public const int ApicBit = 9;

    /// <summary>CPUID.7.0:ECX bit 4, OSPKE.</summary>
    public const int OsPkeBit = 4;

    /// <summary>CPUID.0xD.1:EAX bit 1, XSAVEC.</summary>
    public const uint XsavecBit = 1u << 1;

    /// <summary>CPUID.0xD.1:EAX bit 3, XSAVES.</summary>
    public const uint XsavesBit = 1u << 3;

    /// <summary>
    /// <c>kvm_update_cpuid_runtime</c>: rewrites OSXSAVE and APIC in the first leaf-1 entry, OSPKE in 7.0, EBX of
    /// 0xD.0 (standard size of XCR0), EBX of 0xD.1 (compacted size, only if that entry's EAX has XSAVES or
    /// XSAVEC; XCR0 | XSS from 6.18), and MWAIT from MISC_ENABLE when the MISC_ENABLE_NO_MWAIT quirk is
    /// disabled. Entries are found by the table's lookup rule, in that order, so aliased entries see earlier
    /// rewrites. Missing entries mean nothing to update; capability bits change only where an entry was rewritten.
    /// </summary>
    public static Materialized Materialize(Vm vm, Vcpu vcpu, CpuidTable table, DynamicCaps caps, KvmRules rules)
    {
        var rule = rules.Lookup;
        // At most four positions change: leaf 1, 7.0, 0xD.0 and 0xD.1.
        var edits = new TableEdits(table, stackalloc (int, CpuidEntry)[4]);
        var sizes = 0;

        var leaf1 = CpuidLookup.IndexOfFunction(table, 1, rule);
        if (leaf1 >= 0)
        {
            var entry = edits.Get(leaf1);
            var osxsave = KernelProfiles.RewritesOsXsave(vm.Profile, vm.Host) ? vcpu.Cr4Has(Cr4.OsXsave) : entry.Has(CpuidRegister.Ecx, OsXsaveBit);
            var apic = (vcpu.ApicBase & Msr.ApicBaseEnable) != 0;
            edits.Set(leaf1, entry.WithBit(CpuidRegister.Ecx, OsXsaveBit, osxsave).WithBit(CpuidRegister.Edx, ApicBit, apic));
            caps = With(With(caps, DynamicCaps.OsXsave, osxsave), DynamicCaps.Apic, apic);
        }

        var leaf7 = CpuidLookup.IndexOf(table, 7, 0, rule);
        if (leaf7 >= 0)
        {
            var entry = edits.Get(leaf7);
            var ospke = KernelProfiles.RewritesOsPke(vm.Profile, vm.Host) ? vcpu.Cr4Has(Cr4.Pke) : entry.Has(CpuidRegister.Ecx, OsPkeBit);
            edits.Set(leaf7, entry.WithBit(CpuidRegister.Ecx, OsPkeBit, ospke));
            caps = With(caps, DynamicCaps.OsPke, ospke);
        }

        var d0 = CpuidLookup.IndexOf(table, 0xD, 0, rule);
        if (d0 >= 0)
        {
            sizes++;
            edits.Set(d0, edits.Get(d0) with { Ebx = rules.XstateRequiredSize(vm.Host.Xsave, vcpu.Xcr0, false) });
        }

        var d1 = CpuidLookup.IndexOf(table, 0xD, 1, rule);
        if (d1 >= 0)
        {
            var entry = edits.Get(d1);
            if ((entry.Eax & rules.CompactedSizeFormats) != 0)
            {
                sizes++;
                var requested = KernelProfiles.CompactedSizeIncludesXss(vm.Profile) ? vcpu.Xcr0 | vcpu.Xss : vcpu.Xcr0;
                edits.Set(d1, entry with { Ebx = rules.XstateRequiredSize(vm.Host.Xsave, requested, true) });
            }
        }

        if (rules.MiscEnableOwnsMwait(vm) && leaf1 >= 0)
        {
            var mwait = (vcpu.MiscEnable & Msr.MiscEnableMwait) != 0;
            edits.Set(leaf1, edits.Get(leaf1).WithBit(CpuidRegister.Ecx, MwaitBit, mwait));
            caps = With(caps, DynamicCaps.Mwait, mwait);
        }

        return new Materialized(edits.ToTable(), caps, sizes);
    }

    /// <summary>The dynamic capability bits a table states (what <c>kvm_vcpu_after_set_cpuid</c> starts from).</summary>
    public static DynamicCaps CapsOf(CpuidTable table)
    {
        var caps = DynamicCaps.None;
        if (table.IndexOfFunction(1) is var i1 and >= 0 && table[i1] is var leaf1)
        {
            caps |= leaf1.Has(CpuidRegister.Ecx, OsXsaveBit) ? DynamicCaps.OsXsave : 0;
            caps |= leaf1.Has(CpuidRegister.Edx, ApicBit) ? DynamicCaps.Apic : 0;
            caps |= leaf1.Has(CpuidRegister.Ecx, MwaitBit) ? DynamicCaps.Mwait : 0;
        }
        if (table.Find(7, 0) is { } leaf7)
        {
            caps |= leaf7.Has(CpuidRegister.Ecx, OsPkeBit) ? DynamicCaps.OsPke : 0;
        }
        return caps;
    }

    private static DynamicCaps With(DynamicCaps caps, DynamicCaps bit, bool set) => set ? caps | bit : caps & ~bit;

    /// <summary>
    /// Edits of a table collected while an update runs, applied at the end in one <see cref="CpuidTable.SetItems"/>
    /// (which copies only the changed leaves); no allocation when nothing changes.
    /// </summary>
    private ref struct TableEdits(CpuidTable table, Span<(int Position, CpuidEntry Entry)> buffer)
    {
        private readonly Span<(int Position, CpuidEntry Entry)> buffer = buffer;
        private int count;

        public readonly CpuidEntry Get(int position)
        {
            for (var i = 0; i < count; i++)
            {
                if (buffer[i].Position == position)
                {
                    return buffer[i].Entry;
                }
            }
            return table[position];
        }

        public void Set(int position, CpuidEntry entry)
        {
            for (var i = 0; i < count; i++)
            {
                if (buffer[i].Position == position)
                {
                    buffer[i].Entry = entry;
                    return;
                }
            }
            if (table[position] != entry)
            {
                buffer[count++] = (position, entry);
            }
        }

        public readonly CpuidTable ToTable() => count == 0 ? table : table.SetItems(buffer[..count]);
    }
}
