using CpuidFunctional.Core.Cpuid;
using CpuidFunctional.Core.Host;

namespace CpuidFunctional.Oracle;

/// <summary>
/// The "live kernel" host source: a <see cref="HostCpu"/> for the model built from what this kernel's KVM works
/// with. KVM_GET_SUPPORTED_CPUID gives KVM's supported XCR0/XSS (0xD.0, 0xD.1); the host's own CPUID gives leaf 1
/// (<c>boot_cpu_has(X86_FEATURE_XSAVE)</c> gates KVM_SET_XCRS, MWAIT), leaf 6 (ARAT, APERFMPERF: which exits
/// KVM_CAP_X86_DISABLE_EXITS offers) and the XSAVE component layout 0xD.i, i ≥ 2, which
/// KVM snapshots from the host at module load (<c>kvm_init_xstate_sizes</c>), and whether the host has
/// IA32_ARCH_CAPABILITIES (CPUID.7.0:EDX[29]).
/// </summary>
public static class LiveKernelHost
{
    /// <summary>Builds the host.</summary>
    /// <param name="name">A name for reports, e.g. "live 6.18.44".</param>
    /// <param name="supported">KVM_GET_SUPPORTED_CPUID.</param>
    /// <param name="hostCpuid">The host's CPUID instruction: (leaf, sub-leaf) → entry.</param>
    public static HostCpu Build(string name, CpuidTable supported, Func<uint, uint, CpuidEntry> hostCpuid)
    {
        var table = supported.RemoveAll(e => e.Function == 1 || (e.Function == 0xD && e.Index >= 2));
        table = table.Add(hostCpuid(1, 0) with { Function = 1, Index = 0, Flags = CpuidFlags.None });
        table = WithHostArchCapabilities(table, hostCpuid(7, 0));
        // Leaf 6 as the host has it: ARAT and APERFMPERF are what KVM_CAP_X86_DISABLE_EXITS consults (boot_cpu_has).
        table = table.RemoveAll(e => e.Function == 6).Add(hostCpuid(6, 0) with { Function = 6, Index = 0, Flags = CpuidFlags.None });
        for (uint i = 2; i < XsaveLayout.ComponentSlots; i++)
        {
            var component = hostCpuid(0xD, i);
            if (component.Eax != 0)
            {
                table = table.Add(component with { Function = 0xD, Index = i, Flags = CpuidFlags.SignificantIndex });
            }
        }
        return HostCpu.FromCpuid(name, table);
    }

    /// <summary>
    /// CPUID.7.0:EDX[29] (IA32_ARCH_CAPABILITIES) as the host has it: KVM_GET_SUPPORTED_CPUID always offers the bit (KVM
    /// emulates the MSR), but only the host's own says whether it has the MSR, and with it IA32_TSX_CTRL
    /// (<c>Kvm.HasTsxCtrl</c>).
    /// </summary>
    private static CpuidTable WithHostArchCapabilities(CpuidTable table, CpuidEntry hostLeaf7)
    {
        var i = table.IndexOf(7, 0);
        return i < 0 ? table : table.SetItem(i, table[i].WithBit(CpuidRegister.Edx, HostCpu.ArchCapabilitiesBit, hostLeaf7.Has(CpuidRegister.Edx, HostCpu.ArchCapabilitiesBit)));
    }

    /// <summary>The CPUID instruction of the machine running this process (x86 only; zeros elsewhere).</summary>
    public static CpuidEntry HostCpuid(uint leaf, uint subleaf)
    {
        if (!System.Runtime.Intrinsics.X86.X86Base.IsSupported)
        {
            return new CpuidEntry(leaf, subleaf, CpuidFlags.None, 0, 0, 0, 0);
        }
        var (eax, ebx, ecx, edx) = System.Runtime.Intrinsics.X86.X86Base.CpuId((int)leaf, (int)subleaf);
        return new CpuidEntry(leaf, subleaf, CpuidFlags.None, (uint)eax, (uint)ebx, (uint)ecx, (uint)edx);
    }
}
