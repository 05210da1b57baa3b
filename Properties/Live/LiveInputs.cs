namespace CpuidFunctional.Properties.Live;

/// <summary>The inputs the live tests build their events from: MSR lists, quirk masks and edits of a live table.</summary>
internal static class LiveInputs
{
    /// <summary>KVM_X86_QUIRK_MISC_ENABLE_NO_MWAIT as a KVM_CAP_DISABLE_QUIRKS2 mask.</summary>
    public const ulong QuirkNoMwait = (ulong)KvmQuirks.MiscEnableNoMwait;

    /// <summary>KVM_X86_QUIRK_MWAIT_NEVER_UD_FAULTS as a KVM_CAP_DISABLE_QUIRKS2 mask.</summary>
    public const ulong QuirkNeverUd = (ulong)KvmQuirks.MwaitNeverUdFaults;

    /// <summary>(index, value) pairs as KVM_SET_MSRS entries, in order.</summary>
    public static ValueArray<MsrEntry> Msrs(params (uint Index, ulong Value)[] entries) => new([.. entries.Select(e => new MsrEntry(e.Index, e.Value))]);

    /// <summary>The table with entry (function, index) edited; leaf 1 by function alone (its index is not significant). Unchanged without the entry.</summary>
    public static CpuidTable Edit(CpuidTable t, uint function, uint index, Func<CpuidEntry, CpuidEntry> edit)
    {
        var i = function == 1 ? t.IndexOfFunction(1) : t.IndexOf(function, index);
        return i < 0 ? t : t.SetItem(i, edit(t[i]));
    }

    /// <summary>One bit of entry (function, index) flipped.</summary>
    public static CpuidTable Flip(CpuidTable t, uint function, uint index, CpuidRegister register, int bit) =>
        Edit(t, function, index, e => e.WithBit(register, bit, !e.Has(register, bit)));

    /// <summary>One bit of leaf 1 set or cleared.</summary>
    public static CpuidTable WithLeaf1Bit(CpuidTable t, CpuidRegister register, int bit, bool set) => Edit(t, 1, 0, e => e.WithBit(register, bit, set));

    /// <summary>
    /// KVM's signature leaf at <paramref name="kvmBase"/> with (or, <paramref name="signed"/> false, without)
    /// "KVMKVMKVM", and its features leaf with KVM_FEATURE_PV_UNHALT set (its other bits kept); each entry added where
    /// the table lacks it.
    /// </summary>
    public static CpuidTable WithKvmLeaves(CpuidTable t, bool signed = true, uint kvmBase = PvFeatures.FirstBase)
    {
        var signature = new CpuidEntry(kvmBase, 0, CpuidFlags.None, kvmBase + 1, signed ? PvFeatures.SignatureEbx : 0xDEAD_BEEF, PvFeatures.SignatureEcx, PvFeatures.SignatureEdx);
        t = t.IndexOfFunction(kvmBase) is var s and >= 0 ? t.SetItem(s, signature) : t.Add(signature);
        return t.IndexOfFunction(kvmBase + 1) is var f and >= 0
            ? t.SetItem(f, t[f].WithBit(CpuidRegister.Eax, PvFeatures.PvUnhaltBit, true))
            : t.Add(new CpuidEntry(kvmBase + 1, 0, CpuidFlags.None, 0x0100_7AFB, 0, 0, 0));
    }

    /// <summary>CPUID.0xD.0:EAX offering AMX tile data (XTILEDATA), which no live test's process asks to give a guest.</summary>
    public static CpuidTable OfferingTileData(CpuidTable t) => Edit(t, 0xD, 0, e => e with { Eax = e.Eax | (uint)Xcr0.XtileData });
}
