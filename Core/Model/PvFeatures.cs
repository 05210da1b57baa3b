using CpuidFunctional.Core.Cpuid;

namespace CpuidFunctional.Core.Model;

/// <summary>
/// KVM's paravirtual CPUID leaves as KVM itself reads them from a guest table: the signature leaf that gives their
/// base (<c>kvm_get_hypervisor_cpuid</c>; 6.1's <c>kvm_update_kvm_cpuid_base</c>) and the features leaf at base + 1
/// (<c>KVM_CPUID_FEATURES</c>), whose KVM_FEATURE_PV_UNHALT KVM clears where a VM's HLT exits are disabled.
/// </summary>
public static class PvFeatures
{
    /// <summary>"KVMK", EBX of KVM's signature leaf ("KVMKVMKVM\0\0\0").</summary>
    public const uint SignatureEbx = 0x4B4D_564B;

    /// <summary>"VMKV", ECX of KVM's signature leaf.</summary>
    public const uint SignatureEcx = 0x564B_4D56;

    /// <summary>"M\0\0\0", EDX of KVM's signature leaf.</summary>
    public const uint SignatureEdx = 0x4D;

    /// <summary>KVM_FEATURE_PV_UNHALT, bit 7 of the features leaf's EAX.</summary>
    public const int PvUnhaltBit = 7;

    /// <summary>The first hypervisor leaf base KVM tries, 0x40000000; it tries every 0x100 below 0x40010000.</summary>
    public const uint FirstBase = 0x4000_0000;

    /// <summary>
    /// The base of KVM's leaves in <paramref name="table"/>: the first of 0x40000000, 0x40000100, ... 0x4000FF00 whose
    /// entry (the first with that function) carries KVM's signature in EBX, ECX, EDX; null if none does.
    /// </summary>
    public static uint? KvmCpuidBase(CpuidTable table)
    {
        for (var b = FirstBase; b < FirstBase + 0x1_0000; b += 0x100)
        {
            var i = table.IndexOfFunction(b);
            if (i >= 0 && table[i] is { Ebx: SignatureEbx, Ecx: SignatureEcx, Edx: SignatureEdx })
            {
                return b;
            }
        }
        return null;
    }

    /// <summary>
    /// <paramref name="table"/> with KVM_FEATURE_PV_UNHALT cleared in the features leaf at <paramref name="kvmBase"/> + 1
    /// (its first entry); the same table where there is no base, no such leaf or the bit is clear already.
    /// </summary>
    public static CpuidTable WithoutPvUnhalt(CpuidTable table, uint? kvmBase)
    {
        var i = kvmBase is { } b ? table.IndexOfFunction(b | 1) : -1;
        return i < 0 || !table[i].Has(CpuidRegister.Eax, PvUnhaltBit)
            ? table
            : table.SetItem(i, table[i].WithBit(CpuidRegister.Eax, PvUnhaltBit, false));
    }
}
