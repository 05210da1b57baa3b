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
    public static Materialized Materialize(Vm vm, Vcpu vcpu, CpuidTable table, DynamicCaps caps, KvmRules rules) =>
        Materialize(vm, DynamicInputs.Of(vcpu), table, caps, rules);

    /// <summary>
    /// <see cref="Materialize(Vm, Vcpu, CpuidTable, DynamicCaps, KvmRules)"/> for these register values, which need not
    /// be a vCPU's yet (a trigger site's write before it is stored); the <see cref="Vcpu"/> overload reads them from a vCPU.
    /// </summary>
    public static Materialized Materialize(Vm vm, DynamicInputs inputs, CpuidTable table, DynamicCaps caps, KvmRules rules)
    {
        var rule = rules.Lookup;
        // At most five registers change: leaf 1's ECX and EDX, 7.0's ECX, 0xD.0's and 0xD.1's EBX.
        var edits = new TableEdits(table, stackalloc OutputWrite[5]);
        var sizes = 0;

        var leaf1 = CpuidLookup.IndexOfFunction(table, 1, rule);
        if (leaf1 >= 0)
        {
            var ecx = edits.Get(leaf1, CpuidRegister.Ecx);
            var osxsave = KernelProfiles.RewritesOsXsave(vm.Profile, vm.Host) ? inputs.Cr4Has(Cr4.OsXsave) : CpuidEntry.IsBitSet(ecx, OsXsaveBit);
            var apic = (inputs.ApicBase & Msr.ApicBaseEnable) != 0;
            edits.Set(leaf1, CpuidRegister.Ecx, CpuidEntry.SetOrClearBit(ecx, OsXsaveBit, osxsave));
            edits.Set(leaf1, CpuidRegister.Edx, CpuidEntry.SetOrClearBit(edits.Get(leaf1, CpuidRegister.Edx), ApicBit, apic));
            caps = With(With(caps, DynamicCaps.OsXsave, osxsave), DynamicCaps.Apic, apic);
        }

        var leaf7 = CpuidLookup.IndexOf(table, 7, 0, rule);
        if (leaf7 >= 0)
        {
            var ecx = edits.Get(leaf7, CpuidRegister.Ecx);
            var ospke = KernelProfiles.RewritesOsPke(vm.Profile, vm.Host) ? inputs.Cr4Has(Cr4.Pke) : CpuidEntry.IsBitSet(ecx, OsPkeBit);
            edits.Set(leaf7, CpuidRegister.Ecx, CpuidEntry.SetOrClearBit(ecx, OsPkeBit, ospke));
            caps = With(caps, DynamicCaps.OsPke, ospke);
        }

        var d0 = CpuidLookup.IndexOf(table, 0xD, 0, rule);
        if (d0 >= 0)
        {
            sizes++;
            edits.Set(d0, CpuidRegister.Ebx, rules.XstateRequiredSize(vm.Host.Xsave, inputs.Xcr0, false));
        }

        var d1 = CpuidLookup.IndexOf(table, 0xD, 1, rule);
        if (d1 >= 0 && (edits.Get(d1, CpuidRegister.Eax) & rules.CompactedSizeFormats) != 0)
        {
            sizes++;
            var requested = KernelProfiles.CompactedSizeIncludesXss(vm.Profile) ? inputs.Xcr0 | inputs.Xss : inputs.Xcr0;
            edits.Set(d1, CpuidRegister.Ebx, rules.XstateRequiredSize(vm.Host.Xsave, requested, true));
        }

        if (rules.MiscEnableOwnsMwait(vm) && leaf1 >= 0)
        {
            var mwait = (inputs.MiscEnable & Msr.MiscEnableMwait) != 0;
            edits.Set(leaf1, CpuidRegister.Ecx, CpuidEntry.SetOrClearBit(edits.Get(leaf1, CpuidRegister.Ecx), MwaitBit, mwait));
            caps = With(caps, DynamicCaps.Mwait, mwait);
        }

        return new Materialized(edits.ToTable(), caps, sizes);
    }

    /// <summary>
    /// The dynamic capability bits a table states (what <c>kvm_vcpu_after_set_cpuid</c> starts from, by the capability
    /// lookup of leaf 1 sub-leaf 0; the runtime update then sets OSXSAVE and APIC from the leaf-1 entry it finds).
    /// </summary>
    public static DynamicCaps CapsOf(CpuidTable table)
    {
        var caps = DynamicCaps.None;
        if (table.Find(1, 0) is { } leaf1)
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
    /// The register writes of an update, collected while it runs (a later write of a register replaces an earlier one,
    /// reads see them, and only writes that change the table are kept) and applied at the end in one
    /// <see cref="CpuidTable.WithOutputs"/>, which then patches only leaves whose outputs change; no call and no
    /// allocation when no output changes.
    /// </summary>
    private ref struct TableEdits(CpuidTable table, Span<OutputWrite> buffer)
    {
        private readonly Span<OutputWrite> buffer = buffer;
        private int count;

        public readonly uint Get(int position, CpuidRegister register)
        {
            for (var i = 0; i < count; i++)
            {
                if (buffer[i].Position == position && buffer[i].Register == register)
                {
                    return buffer[i].Value;
                }
            }
            return table.Output(position, register);
        }

        public void Set(int position, CpuidRegister register, uint value)
        {
            var unchanged = value == table.Output(position, register);
            for (var i = 0; i < count; i++)
            {
                if (buffer[i].Position == position && buffer[i].Register == register)
                {
                    // A write back to the table's value (0xD.1 rewriting what 0xD.0 wrote, where one entry is both) drops the edit.
                    buffer[i] = unchanged ? buffer[--count] : new(position, register, value);
                    return;
                }
            }
            if (!unchanged)
            {
                buffer[count++] = new(position, register, value);
            }
        }

        public readonly CpuidTable ToTable() => count == 0 ? table : table.WithOutputs(buffer[..count]);
    }
}
