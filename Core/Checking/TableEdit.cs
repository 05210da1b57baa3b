namespace CpuidFunctional.Core.Checking;

/// <summary>One structural edit a guest CPUID table can receive on top of the host's leaves (spec Modelling note 4).</summary>
public enum TableEdit
{
    /// <summary>Remove the leaf-1 entry (nothing for OSXSAVE, APIC, MWAIT to update).</summary>
    DropLeaf1,

    /// <summary>Remove 7.0 (nothing for OSPKE to update).</summary>
    DropLeaf7,

    /// <summary>Remove 0xD.0.</summary>
    DropD0,

    /// <summary>Remove 0xD.1.</summary>
    DropD1,

    /// <summary>Clear the significant-index flag of 0xD.0 (it then matches every sub-leaf, shadowing 0xD.1).</summary>
    UnflagD0,

    /// <summary>Clear the significant-index flag of 0xD.1.</summary>
    UnflagD1,

    /// <summary>Clear the significant-index flag of 7.0.</summary>
    UnflagLeaf7,

    /// <summary>Replace all 0xD entries by a single unflagged one: both size rewrites hit the same entry.</summary>
    SingleUnflaggedD,

    /// <summary>Append a second, different leaf-1 entry (shadowed: the first match wins).</summary>
    DuplicateLeaf1,

    /// <summary>Append a second, different 0xD.1 entry.</summary>
    DuplicateD1,

    /// <summary>Put an unflagged 0xD copy in front of the indexed ones.</summary>
    UnflaggedDFirst,

    /// <summary>Clear CPUID.1:ECX.XSAVE (CR4.OSXSAVE becomes reserved).</summary>
    ClearXsave,

    /// <summary>Clear CPUID.7.0:ECX.PKU (CR4.PKE becomes reserved).</summary>
    ClearPku,

    /// <summary>Clear CPUID.1:ECX.SSE3 (MISC_ENABLE.MWAIT writes are refused once the quirk is off).</summary>
    ClearSse3,

    /// <summary>Add 0xB.0 and 0xB.1 (the x2APIC-ID answer rule for missing 0xB sub-leaves).</summary>
    AddLeafB,

    /// <summary>Add the KVM hypervisor leaves 0x40000000 and 0x40000001 (a class for the out-of-range rule).</summary>
    AddHypervisorLeaves,

    /// <summary>Remove 0x80000000 (no extended class: every extended leaf is out of range).</summary>
    DropExtendedBase,

    /// <summary>A virtual-address width of 40 in 0x80000008 (KVM_SET_CPUID2 refuses it with EINVAL).</summary>
    BadVirtualAddressWidth,
}
