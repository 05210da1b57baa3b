using System.Collections.Immutable;
using CpuidFunctional.Core.Model;
using CpuidFunctional.Core.Host;
using CpuidFunctional.Core.State;

namespace CpuidFunctional.Core.Checking;

/// <summary>
/// The event alphabet of the exhaustive equivalence check for a configuration, covering the inputs of the dynamic
/// outputs: CR4.OSXSAVE/PKE, XCR0 over the host's valid masks, a few IA32_XSS values, APIC enable,
/// MISC_ENABLE.MWAIT, the MISC_ENABLE_NO_MWAIT quirk, nested entry and exit with every vmcs12 guest and host
/// combination of the two CR4 bits (L1 owning none of them), on AMD and Hygon hosts nested SVM (VMRUN with every
/// save.cr4 combination, CPUID intercepted or not, and #VMEXIT), KVM_SET_CPUID2 of the unmodified table, and the observations (CPUID of every
/// dynamic leaf, KVM_GET_CPUID2, MONITOR/MWAIT).
/// </summary>
public static class KvmAlphabet
{
    /// <summary>The CR4 values the alphabet writes: every combination of OSXSAVE and PKE.</summary>
    public static ImmutableArray<ulong> Cr4Values { get; } = [0, Cr4.OsXsave, Cr4.Pke, Cr4.OsXsave | Cr4.Pke];

    /// <summary>The alphabet, in the order the search tries it.</summary>
    public static ImmutableArray<VcpuEvent> For(CheckConfiguration configuration, EquivalenceBounds? bounds = null)
    {
        bounds ??= EquivalenceBounds.Full;
        var host = configuration.Vm.Host;
        var events = ImmutableArray.CreateBuilder<VcpuEvent>();
        foreach (var cr4 in Cr4Values)
        {
            events.Add(new VcpuEvent.MovToCr4(cr4));
        }
        foreach (var xcr0 in bounds.AllXcr0Masks ? ValidXcr0Masks(host.SupportedXcr0) : ChainXcr0Masks(host.SupportedXcr0))
        {
            events.Add(new VcpuEvent.Xsetbv(0, xcr0));
        }
        // IA32_XSS values KVM accepts on this profile and host (kvm_caps.supported_xss): others only #GP.
        foreach (var xss in XssValues(KernelProfiles.SupportedXss(configuration.Vm.Profile, host), bounds.MaxXssValues))
        {
            events.Add(new VcpuEvent.Wrmsr(Msr.Xss, xss));
        }
        events.Add(new VcpuEvent.Wrmsr(Msr.ApicBase, Msr.ApicBaseDefault));
        events.Add(new VcpuEvent.Wrmsr(Msr.ApicBase, Msr.ApicBaseDefault & ~Msr.ApicBaseEnable));
        events.Add(new VcpuEvent.Wrmsr(Msr.MiscEnable, Msr.MiscEnableDefault));
        events.Add(new VcpuEvent.Wrmsr(Msr.MiscEnable, Msr.MiscEnableDefault | Msr.MiscEnableMwait));
        events.Add(new VcpuEvent.DisableQuirks2((ulong)KvmQuirks.MiscEnableNoMwait));
        foreach (var cr4 in Cr4Values)
        {
            events.Add(new VcpuEvent.NestedVmEntry(cr4));
        }
        foreach (var cr4 in Cr4Values)
        {
            events.Add(new VcpuEvent.NestedVmExit(cr4));
        }
        events.AddRange(NestedSvm(host, bounds.AllVmrunCr4Values ? Cr4Values : [0, Cr4.OsXsave | Cr4.Pke]));
        events.Add(new VcpuEvent.SetCpuid2(configuration.GuestCpuid));
        events.Add(new VcpuEvent.Cpuid(1, 0));
        events.Add(new VcpuEvent.Cpuid(7, 0));
        events.Add(new VcpuEvent.Cpuid(0xD, 0));
        events.Add(new VcpuEvent.Cpuid(0xD, 1));
        events.Add(new VcpuEvent.MonitorMwait());
        events.Add(new VcpuEvent.GetCpuid2(CpuidFunctional.Core.Cpuid.CpuidTable.MaxEntries));
        return events.ToImmutable();
    }

    /// <summary>The CPUID intercepts the alphabet's VMRUNs give vmcb12: off (L0 answers L2's CPUID with L2's CR4) and on.</summary>
    public static ImmutableArray<Vmcb12Intercepts> SvmIntercepts { get; } = [Vmcb12Intercepts.None, Vmcb12Intercepts.Cpuid];

    /// <summary>
    /// Nested SVM on an AMD or Hygon host (KVM's SVM half, <c>kvm_amd</c>): VMRUN loading every save.cr4 combination of
    /// OSXSAVE and PKE in <paramref name="saveCr4s"/> with CPUID intercepted or not, and #VMEXIT; nothing on other hosts.
    /// </summary>
    private static VcpuEvent[] NestedSvm(HostCpu host, ImmutableArray<ulong> saveCr4s) =>
        host.IsAmdOrHygon
            ? [.. SvmIntercepts.SelectMany(i => saveCr4s.Select(cr4 => (VcpuEvent)new VcpuEvent.NestedSvmVmrun(cr4, i))), new VcpuEvent.NestedSvmVmexit()]
            : [];

    /// <summary>
    /// The most groups of XCR0 bits (<see cref="Xcr0GroupCount"/>) whose subsets <see cref="ValidXcr0Masks"/> enumerates:
    /// 2^16 masks. Real hosts have about ten; more means a dump no processor could give.
    /// </summary>
    public const int MaxXcr0Groups = 16;

    /// <summary>How many groups (bits that must go together) the supported XCR0 bits form besides x87.</summary>
    public static int Xcr0GroupCount(ulong supported) => Xcr0Groups(supported).Length;

    /// <summary>
    /// Every XCR0 value <c>__kvm_set_xcr</c> accepts within the host's supported features (x87 always set). Throws
    /// <see cref="ArgumentOutOfRangeException"/> beyond <see cref="MaxXcr0Groups"/> groups (callers check
    /// <see cref="Xcr0GroupCount"/> first and report it).
    /// </summary>
    public static IEnumerable<ulong> ValidXcr0Masks(ulong supported)
    {
        // Only a few groups exist on real hosts, so enumerate the subsets of the "groups" (bits that must go together).
        var groups = Xcr0Groups(supported);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(groups.Length, MaxXcr0Groups, nameof(supported));
        var masks = new List<ulong>();
        for (var subset = 0ul; subset < 1ul << groups.Length; subset++)
        {
            var mask = Xcr0.Fp;
            for (var g = 0; g < groups.Length; g++)
            {
                mask |= (subset & (1ul << g)) != 0 ? groups[g] : 0;
            }
            if (IsArchitecturallyValid(mask))
            {
                masks.Add(mask);
            }
        }
        return masks;
    }

    /// <summary>The cumulative chain: x87, then each group of the host added in bit order.</summary>
    public static IEnumerable<ulong> ChainXcr0Masks(ulong supported)
    {
        var mask = Xcr0.Fp;
        var masks = new List<ulong> { mask };
        foreach (var group in Xcr0Groups(supported))
        {
            mask |= group;
            if (IsArchitecturallyValid(mask))
            {
                masks.Add(mask);
            }
        }
        return masks;
    }

    private static ulong[] Xcr0Groups(ulong supported)
    {
        ulong[] known = [Xcr0.Sse, Xcr0.Ymm, Xcr0.Bndregs | Xcr0.Bndcsr, Xcr0.Avx512, Xcr0.Pkru, Xcr0.Xtile];
        var groups = known.Where(g => (supported & g) == g).ToList();
        var rest = supported & ~Xcr0.Fp & ~known.Aggregate(0ul, (a, g) => a | g);
        for (var bit = 0; bit < 64; bit++)
        {
            if ((rest & (1ul << bit)) != 0)
            {
                groups.Add(1ul << bit);
            }
        }
        return [.. groups];
    }

    private static bool IsArchitecturallyValid(ulong xcr0) =>
        ((xcr0 & Xcr0.Ymm) == 0 || (xcr0 & Xcr0.Sse) != 0)
        && ((xcr0 & Xcr0.Avx512) == 0 || (xcr0 & Xcr0.Ymm) != 0);

    /// <summary>0, each supported XSS bit alone, then all of them together, at most <paramref name="max"/> values.</summary>
    public static IEnumerable<ulong> XssValues(ulong supported, int max)
    {
        var values = new List<ulong> { 0 };
        for (var bit = 0; bit < 64; bit++)
        {
            if ((supported & (1ul << bit)) != 0)
            {
                values.Add(1ul << bit);
            }
        }
        if (!values.Contains(supported))
        {
            values.Add(supported);
        }
        return values.Take(Math.Max(1, max));
    }
}
