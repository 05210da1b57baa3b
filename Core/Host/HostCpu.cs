using CpuidFunctional.Core.Cpuid;
using CpuidFunctional.Core.Dynamic;

namespace CpuidFunctional.Core.Host;

/// <summary>
/// The host processor as KVM sees it at module load: its raw CPUID table, the XSAVE component layout taken from
/// it, and the XCR0 / IA32_XSS features it supports. Compared by name and CPUID content.
/// </summary>
public sealed class HostCpu : IEquatable<HostCpu>
{
    private HostCpu(string name, CpuidTable cpuid)
    {
        Name = name;
        Cpuid = cpuid;
        Xsave = XsaveLayout.FromCpuid(cpuid);
        var d0 = cpuid.Find(0xD, 0);
        var d1 = cpuid.Find(0xD, 1);
        SupportedXcr0 = d0 is { } a ? a.Eax | ((ulong)a.Edx << 32) : 0x3;
        SupportedXss = d1 is { } b ? b.Ecx | ((ulong)b.Edx << 32) : 0;
        var extended = cpuid.Find(0x8000_0001, 0)?.Edx ?? 0;
        HasSelfSnoop = ((cpuid.Find(1, 0)?.Edx ?? 0) & (1u << 27)) != 0;
        HasArchCapabilities = ((cpuid.Find(7, 0)?.Edx ?? 0) & (1u << ArchCapabilitiesBit)) != 0;
        HasXsave = GuestFeature.Xsave.In(cpuid);
        HasNx = (extended & (1u << 20)) != 0;
        HasFxsrOpt = (extended & (1u << 25)) != 0;
        HasAutoIbrs = ((cpuid.Find(0x8000_0021, 0)?.Eax ?? 0) & (1u << 8)) != 0;
        IsAmdOrHygon = cpuid.Find(0, 0) is { } leaf0 && Vendor.IsAmdOrHygon(leaf0);
    }

    /// <summary>A host from its raw CPUID table (first logical CPU).</summary>
    /// <param name="name">A short name (preset name or file name).</param>
    /// <param name="cpuid">The host's CPUID leaves, as a dump lists them.</param>
    public static HostCpu FromCpuid(string name, CpuidTable cpuid) => new(name, cpuid);

    /// <summary>A short name.</summary>
    public string Name { get; }

    /// <summary>The host's raw CPUID leaves.</summary>
    public CpuidTable Cpuid { get; }

    /// <summary>CPUID.0xD.i for i ≥ 2 (<c>kvm_init_xstate_sizes</c>).</summary>
    public XsaveLayout Xsave { get; }

    /// <summary>XCR0 bits the host supports: CPUID.0xD.0 EDX:EAX.</summary>
    public ulong SupportedXcr0 { get; }

    /// <summary>IA32_XSS bits the host supports: CPUID.0xD.1 EDX:ECX.</summary>
    public ulong SupportedXss { get; }

    /// <summary>X86_FEATURE_SELFSNOOP (CPUID.1:EDX[27]): kvm_intel offers KVM_X86_QUIRK_IGNORE_GUEST_PAT only with it.</summary>
    public bool HasSelfSnoop { get; }

    /// <summary>
    /// X86_FEATURE_ARCH_CAPABILITIES (CPUID.7.0:EDX[29]): the host has IA32_ARCH_CAPABILITIES, which says (TSX_CTRL_MSR)
    /// whether it has IA32_TSX_CTRL; without it KVM never reads the MSR and the host has no TSX_CTRL.
    /// </summary>
    public bool HasArchCapabilities { get; }

    /// <summary>The bit of CPUID.7.0:EDX that enumerates IA32_ARCH_CAPABILITIES.</summary>
    public const int ArchCapabilitiesBit = 29;

    /// <summary>
    /// X86_FEATURE_XSAVE (CPUID.1:ECX[26]), <c>boot_cpu_has(X86_FEATURE_XSAVE)</c>: KVM_CAP_XCRS, whether KVM_GET/SET_XCRS
    /// report and take XCR0, whether KVM has a supported XCR0 at all, and 6.1's OSXSAVE rewrite.
    /// </summary>
    public bool HasXsave { get; }

    /// <summary>X86_FEATURE_NX (CPUID.0x80000001:EDX[20]): without it <c>efer_reserved_bits</c> keeps EFER.NXE reserved.</summary>
    public bool HasNx { get; }

    /// <summary>X86_FEATURE_FXSR_OPT (CPUID.0x80000001:EDX[25]): without it EFER.FFXSR stays reserved.</summary>
    public bool HasFxsrOpt { get; }

    /// <summary>X86_FEATURE_AUTOIBRS (CPUID.0x80000021:EAX[8]): without it kvm_amd keeps EFER.AUTOIBRS reserved.</summary>
    public bool HasAutoIbrs { get; }

    /// <summary>Whether leaf 0 names AMD or Hygon: the host runs kvm_amd (nested SVM, <c>shutdown_interception</c>).</summary>
    public bool IsAmdOrHygon { get; }

    /// <summary>The host's vendor string from leaf 0.</summary>
    public string VendorName => Cpuid.Find(0, 0) is { } leaf0 ? Vendor.Name(leaf0) : "";

    /// <inheritdoc/>
    public bool Equals(HostCpu? other) =>
        other is not null
        && (ReferenceEquals(this, other) || (string.Equals(Name, other.Name, StringComparison.Ordinal) && Cpuid.Equals(other.Cpuid)));

    /// <inheritdoc/>
    public override bool Equals(object? obj) => Equals(obj as HostCpu);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(StringComparer.Ordinal.GetHashCode(Name), Cpuid);

    /// <inheritdoc/>
    public override string ToString() =>
        $"HostCpu({Name}, {VendorName}, XCR0 0x{SupportedXcr0:x}, XSS 0x{SupportedXss:x}, nent={Cpuid.Count})";
}
