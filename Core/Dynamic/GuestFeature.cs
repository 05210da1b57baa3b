using CpuidFunctional.Core.Cpuid;

namespace CpuidFunctional.Core.Dynamic;

/// <summary>
/// A CPUID feature KVM may consult through <see cref="GuestCpuCaps.Has"/>. The set is closed (private
/// constructor) and holds no dynamic feature but MWAIT: APIC, OSXSAVE and OSPKE cannot be named, which is this
/// model's form of the compile-time assertion in <c>guest_cpu_cap_has()</c> (spec §5). MWAIT stays, as in KVM,
/// because it is only conditionally dynamic.
/// </summary>
public sealed class GuestFeature
{
    private GuestFeature(int index, string name, uint leaf, uint subleaf, CpuidRegister register, int bit)
    {
        Mask = 1ul << index;
        Name = name;
        Leaf = leaf;
        Subleaf = subleaf;
        Register = register;
        Bit = bit;
    }

    /// <summary>X86_FEATURE_XMM3 (SSE3), CPUID.1:ECX[0].</summary>
    public static GuestFeature Sse3 { get; } = new(0, "SSE3", 1, 0, CpuidRegister.Ecx, 0);

    /// <summary>X86_FEATURE_MWAIT, CPUID.1:ECX[3]: read from the cached capability bits (only meaningful while the quirk is in effect).</summary>
    public static GuestFeature Mwait { get; } = new(1, "MWAIT", 1, 0, CpuidRegister.Ecx, 3);

    /// <summary>X86_FEATURE_VMX, CPUID.1:ECX[5].</summary>
    public static GuestFeature Vmx { get; } = new(2, "VMX", 1, 0, CpuidRegister.Ecx, 5);

    /// <summary>X86_FEATURE_PCID, CPUID.1:ECX[17].</summary>
    public static GuestFeature Pcid { get; } = new(3, "PCID", 1, 0, CpuidRegister.Ecx, 17);

    /// <summary>X86_FEATURE_X2APIC, CPUID.1:ECX[21].</summary>
    public static GuestFeature X2Apic { get; } = new(4, "X2APIC", 1, 0, CpuidRegister.Ecx, 21);

    /// <summary>X86_FEATURE_XSAVE, CPUID.1:ECX[26].</summary>
    public static GuestFeature Xsave { get; } = new(5, "XSAVE", 1, 0, CpuidRegister.Ecx, 26);

    /// <summary>X86_FEATURE_FSGSBASE, CPUID.7.0:EBX[0].</summary>
    public static GuestFeature FsGsBase { get; } = new(6, "FSGSBASE", 7, 0, CpuidRegister.Ebx, 0);

    /// <summary>X86_FEATURE_HLE, CPUID.7.0:EBX[4].</summary>
    public static GuestFeature Hle { get; } = new(7, "HLE", 7, 0, CpuidRegister.Ebx, 4);

    /// <summary>X86_FEATURE_SMEP, CPUID.7.0:EBX[7].</summary>
    public static GuestFeature Smep { get; } = new(8, "SMEP", 7, 0, CpuidRegister.Ebx, 7);

    /// <summary>X86_FEATURE_RTM, CPUID.7.0:EBX[11].</summary>
    public static GuestFeature Rtm { get; } = new(9, "RTM", 7, 0, CpuidRegister.Ebx, 11);

    /// <summary>X86_FEATURE_SMAP, CPUID.7.0:EBX[20].</summary>
    public static GuestFeature Smap { get; } = new(10, "SMAP", 7, 0, CpuidRegister.Ebx, 20);

    /// <summary>X86_FEATURE_UMIP, CPUID.7.0:ECX[2].</summary>
    public static GuestFeature Umip { get; } = new(11, "UMIP", 7, 0, CpuidRegister.Ecx, 2);

    /// <summary>X86_FEATURE_PKU, CPUID.7.0:ECX[3].</summary>
    public static GuestFeature Pku { get; } = new(12, "PKU", 7, 0, CpuidRegister.Ecx, 3);

    /// <summary>X86_FEATURE_SHSTK, CPUID.7.0:ECX[7].</summary>
    public static GuestFeature Shstk { get; } = new(13, "SHSTK", 7, 0, CpuidRegister.Ecx, 7);

    /// <summary>X86_FEATURE_LA57, CPUID.7.0:ECX[16].</summary>
    public static GuestFeature La57 { get; } = new(14, "LA57", 7, 0, CpuidRegister.Ecx, 16);

    /// <summary>X86_FEATURE_PKS, CPUID.7.0:ECX[31].</summary>
    public static GuestFeature Pks { get; } = new(15, "PKS", 7, 0, CpuidRegister.Ecx, 31);

    /// <summary>X86_FEATURE_IBT, CPUID.7.0:EDX[20].</summary>
    public static GuestFeature Ibt { get; } = new(16, "IBT", 7, 0, CpuidRegister.Edx, 20);

    /// <summary>X86_FEATURE_XSAVEC, CPUID.0xD.1:EAX[1].</summary>
    public static GuestFeature Xsavec { get; } = new(17, "XSAVEC", 0xD, 1, CpuidRegister.Eax, 1);

    /// <summary>X86_FEATURE_XGETBV1, CPUID.0xD.1:EAX[2].</summary>
    public static GuestFeature Xgetbv1 { get; } = new(18, "XGETBV1", 0xD, 1, CpuidRegister.Eax, 2);

    /// <summary>X86_FEATURE_XSAVES, CPUID.0xD.1:EAX[3].</summary>
    public static GuestFeature Xsaves { get; } = new(19, "XSAVES", 0xD, 1, CpuidRegister.Eax, 3);

    /// <summary>X86_FEATURE_SVM, CPUID.0x80000001:ECX[2]: EFER.SVME is reserved without it (<c>efer_reserved_bits</c>).</summary>
    public static GuestFeature Svm { get; } = new(20, "SVM", 0x8000_0001, 0, CpuidRegister.Ecx, 2);

    /// <summary>X86_FEATURE_NRIPS, CPUID.0x8000000A:EDX[3]: the CPU saves the next RIP in the VMCB on an instruction intercept.</summary>
    public static GuestFeature Nrips { get; } = new(21, "NRIPS", 0x8000_000A, 0, CpuidRegister.Edx, 3);

    /// <summary>X86_FEATURE_LM, CPUID.0x80000001:EDX[29]: <c>enter_smm</c> saves the 64-bit state and clears EFER.</summary>
    public static GuestFeature Lm { get; } = new(22, "LM", 0x8000_0001, 0, CpuidRegister.Edx, 29);

    /// <summary>X86_FEATURE_NX, CPUID.0x80000001:EDX[20]: <c>__kvm_valid_efer</c> allows EFER.NXE only with it.</summary>
    public static GuestFeature Nx { get; } = new(23, "NX", 0x8000_0001, 0, CpuidRegister.Edx, 20);

    /// <summary>X86_FEATURE_FXSR_OPT, CPUID.0x80000001:EDX[25]: <c>__kvm_valid_efer</c> allows EFER.FFXSR only with it.</summary>
    public static GuestFeature FxsrOpt { get; } = new(24, "FXSR_OPT", 0x8000_0001, 0, CpuidRegister.Edx, 25);

    /// <summary>X86_FEATURE_AUTOIBRS, CPUID.0x80000021:EAX[8]: <c>__kvm_valid_efer</c> allows EFER.AUTOIBRS only with it.</summary>
    public static GuestFeature AutoIbrs { get; } = new(25, "AUTOIBRS", 0x8000_0021, 0, CpuidRegister.Eax, 8);

    /// <summary>Every feature, in declaration order.</summary>
    public static IReadOnlyList<GuestFeature> All { get; } =
    [
        Sse3, Mwait, Vmx, Pcid, X2Apic, Xsave, FsGsBase, Hle, Smep, Rtm, Smap, Umip, Pku, Shstk, La57, Pks, Ibt, Xsavec, Xgetbv1, Xsaves, Svm, Nrips, Lm, Nx, FxsrOpt, AutoIbrs,
    ];

    /// <summary>This feature's bit in <see cref="State.GuestCaps.Features"/>, written out at each declaration so the encoding does not depend on the order of lines.</summary>
    public ulong Mask { get; }

    /// <summary>Kernel name of the feature.</summary>
    public string Name { get; }

    /// <summary>CPUID leaf.</summary>
    public uint Leaf { get; }

    /// <summary>CPUID sub-leaf.</summary>
    public uint Subleaf { get; }

    /// <summary>Output register.</summary>
    public CpuidRegister Register { get; }

    /// <summary>Bit number in the register.</summary>
    public int Bit { get; }

    /// <summary>
    /// Whether a CPUID table states this feature: the entry KVM's capability lookup finds for the feature's leaf and
    /// sub-leaf (<c>kvm_vcpu_after_set_cpuid</c>; 6.1's <c>guest_cpuid_has</c>), which honours the significant-index
    /// flag, so a leaf-1 entry flagged for sub-leaf 1 states nothing (only the runtime update finds leaf 1 by function).
    /// </summary>
    public bool In(CpuidTable table)
    {
        var position = table.IndexOf(Leaf, Subleaf);
        return position >= 0 && table[position].Has(Register, Bit);
    }

    /// <inheritdoc/>
    public override string ToString() => Name;
}
