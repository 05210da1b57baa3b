using CpuidFunctional.Core.Cpuid;
using CpuidFunctional.Core.Dynamic;
using CpuidFunctional.Core.Host;
using CsCheck;

namespace CpuidFunctional.Properties.Generators;

/// <summary>
/// Guest CPUID tables derived from a host: the host's leaves with random userspace values in the dynamic bits,
/// then a vendor, a max basic leaf, a 0xD.1 format, a restricted XCR0 set and structural <see cref="TableEdit"/>s.
/// </summary>
public static class GuestTableGen
{
    /// <summary>The vendor string of leaf 0: 0 keeps the host's, then Intel, AMD, Hygon.</summary>
    public static readonly Gen<int> VendorChoice = Gen.Frequency((6, Gen.Const(0)), (2, Gen.Const(1)), (1, Gen.Const(2)), (1, Gen.Const(3)));

    /// <summary>The max basic leaf (0 keeps the host's): 1, 7 or 0xD make out-of-range answers dynamic.</summary>
    public static readonly Gen<uint> MaxBasicLeaf = Gen.Frequency((5, Gen.Const(0u)), (1, Gen.Const(1u)), (1, Gen.Const(7u)), (1, Gen.Const(0xDu)));

    /// <summary>CPUID.0xD.1:EAX: the host's, XSAVEC only (no XSAVES), XSAVES only, or neither (EBX never rewritten).</summary>
    public static readonly Gen<uint?> D1Eax = Gen.Frequency(
        (3, Gen.Const(default(uint?))),
        (3, Gen.Const<uint?>(0x7)),
        (1, Gen.Const<uint?>(0x9)),
        (1, Gen.Const<uint?>(0x1))
    );

    /// <summary>A mask on the guest's XCR0 set (CPUID.0xD.0 EDX:EAX): everything, x87/SSE/AVX only, or a random subset.</summary>
    public static readonly Gen<ulong> Xcr0Restriction = Gen.Frequency(
        (4, Gen.Const(~0ul)),
        (1, Gen.Const(0x7ul)),
        (1, Gen.ULong.Select(r => r | 0x3ul))
    );

    /// <summary>Random userspace values for the dynamic outputs (OSXSAVE, APIC, MWAIT, OSPKE bits; the two EBX sizes).</summary>
    public static readonly Gen<(uint Bits, uint D0Ebx, uint D1Ebx)> UserspaceNoise = Gen.Select(Gen.UInt, Gen.UInt[0, 0x3000], Gen.UInt[0, 0x3000]);

    /// <summary>Up to four structural edits, most tables with none.</summary>
    public static readonly Gen<TableEdit[]> Edits = Gen.Frequency(
        (2, Gen.Const(Array.Empty<TableEdit>())),
        (3, Gen.Enum<TableEdit>().Array[1, 4])
    );

    /// <summary>A guest table for a host.</summary>
    public static Gen<CpuidTable> For(HostCpu host) =>
        Gen.Select(VendorChoice, MaxBasicLeaf, D1Eax, Xcr0Restriction, UserspaceNoise, Edits)
            .Select((vendor, maxLeaf, d1Eax, xcr0Mask, noise, edits) => Build(host, vendor, maxLeaf, d1Eax, xcr0Mask, noise, edits));

    /// <summary>Host and guest table together.</summary>
    public static readonly Gen<(HostCpu Host, CpuidTable Table)> HostAndTable =
        HostGen.Host.SelectMany(host => For(host).Select(table => (host, table)));

    /// <summary>Any guest table (for equality contracts).</summary>
    public static readonly Gen<CpuidTable> Table = HostAndTable.Select(p => p.Table);

    private static CpuidTable Build(HostCpu host, int vendor, uint maxLeaf, uint? d1Eax, ulong xcr0Mask, (uint Bits, uint D0Ebx, uint D1Ebx) noise, TableEdit[] edits)
    {
        var entries = new List<CpuidEntry>();
        foreach (var e in host.Cpuid.Entries)
        {
            entries.Add(e.Function switch
            {
                0 => WithVendor(maxLeaf == 0 ? e : e with { Eax = maxLeaf }, vendor),
                1 => e.WithBit(CpuidRegister.Ecx, DynamicBits.OsXsaveBit, (noise.Bits & 1) != 0)
                    .WithBit(CpuidRegister.Ecx, DynamicBits.MwaitBit, (noise.Bits & 2) != 0)
                    .WithBit(CpuidRegister.Edx, DynamicBits.ApicBit, (noise.Bits & 4) != 0),
                7 => e.WithBit(CpuidRegister.Ecx, DynamicBits.OsPkeBit, (noise.Bits & 8) != 0),
                0xD when e.Index == 0 => e with
                {
                    Eax = e.Eax & (uint)xcr0Mask,
                    Edx = e.Edx & (uint)(xcr0Mask >> 32),
                    Ebx = noise.D0Ebx,
                },
                0xD when e.Index == 1 => e with { Eax = d1Eax ?? e.Eax, Ebx = noise.D1Ebx },
                _ => e,
            });
        }
        foreach (var edit in edits)
        {
            Apply(entries, edit, noise.Bits);
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
                throw new ArgumentOutOfRangeException(nameof(edit), edit, null);
        }
    }
}
