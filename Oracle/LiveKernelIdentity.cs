using System.Globalization;
using CpuidFunctional.Core.Model;

namespace CpuidFunctional.Oracle;

/// <summary>
/// Which kernel answers: its release, the vendor module that drives its vCPUs, and the model profile whose rules
/// it follows. Read from the running kernel (procfs, sysfs), never from a recording.
/// </summary>
/// <param name="Release"><c>uname -r</c>.</param>
/// <param name="VendorModule">The loaded vendor module: <c>kvm_intel</c>, <c>kvm_amd</c>, <c>kvm_pvm</c>, or "" if none is known.</param>
/// <param name="Profile">The model profile for this kernel's common code, or null if the model has none for this release.</param>
public sealed record LiveKernelIdentity(string Release, string VendorModule, KernelProfile? Profile)
{
    private static readonly string[] VendorModules = ["kvm_pvm", "kvm_intel", "kvm_amd"];

    /// <summary>The PVM vendor module of this project's machines: its rewrites and checks are not upstream's.</summary>
    public bool IsPvm => VendorModule == "kvm_pvm";

    /// <summary>The update scheme of this kernel's common code: eager before 6.15, lazy from 6.15 on (93da6af3ae56).</summary>
    public UpdateScheme Era => Profile is KernelProfile.Linux6_1 ? UpdateScheme.Eager : UpdateScheme.Lazy;

    /// <summary>The running kernel.</summary>
    public static LiveKernelIdentity Current
    {
        get
        {
            var release = KvmSystem.KernelRelease;
            var vendor = VendorModules.FirstOrDefault(m => Directory.Exists("/sys/module/" + m)) ?? "";
            return new LiveKernelIdentity(release, vendor, ProfileOf(release));
        }
    }

    /// <summary>
    /// The model profile for a release: 6.18 and later → <see cref="KernelProfile.Linux6_18"/>, 6.15–6.17 →
    /// <see cref="KernelProfile.Linux6_15"/>, 6.1.x → <see cref="KernelProfile.Linux6_1"/>; other releases have none.
    /// </summary>
    public static KernelProfile? ProfileOf(string release)
    {
        var parts = release.Split('.', 3);
        if (parts.Length < 2
            || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var major)
            || !int.TryParse(new string([.. parts[1].TakeWhile(char.IsAsciiDigit)]), NumberStyles.None, CultureInfo.InvariantCulture, out var minor))
        {
            return null;
        }
        return (major, minor) switch
        {
            (> 6, _) or (6, >= 18) => KernelProfile.Linux6_18,
            (6, >= 15) => KernelProfile.Linux6_15,
            (6, 1) => KernelProfile.Linux6_1,
            _ => null,
        };
    }

    /// <inheritdoc/>
    public override string ToString() =>
        $"{Release} ({(VendorModule.Length == 0 ? "no vendor module" : VendorModule)}, profile {Profile?.ToString() ?? "none"})";
}
