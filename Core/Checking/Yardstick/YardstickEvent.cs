using System.Globalization;

namespace CpuidFunctional.Core.Checking.Yardstick;

/// <summary>One event of the yardstick alphabet.</summary>
/// <param name="Kind">What happens.</param>
/// <param name="Xcr0">For <see cref="YardstickEventKind.Xsetbv"/>, the architectural XCR0 value written.</param>
/// <param name="Xcr0Index">For <see cref="YardstickEventKind.Xsetbv"/>, that mask's index in the yardstick's list.</param>
public readonly record struct YardstickEvent(YardstickEventKind Kind, ulong Xcr0 = 0, byte Xcr0Index = 0)
{
    /// <inheritdoc/>
    public override string ToString() => Kind switch
    {
        YardstickEventKind.ToggleCr4OsXsave => "toggle CR4.OSXSAVE",
        YardstickEventKind.ToggleCr4Pke => "toggle CR4.PKE",
        YardstickEventKind.Xsetbv => string.Create(CultureInfo.InvariantCulture, $"XSETBV 0x{Xcr0:x}"),
        YardstickEventKind.WrmsrXss0 => "WRMSR IA32_XSS 0",
        YardstickEventKind.WrmsrXss100 => "WRMSR IA32_XSS 0x100",
        YardstickEventKind.ToggleApicEnable => "toggle IA32_APIC_BASE.EN",
        YardstickEventKind.ToggleMiscEnableMwait => "toggle IA32_MISC_ENABLE.MWAIT",
        YardstickEventKind.DisableMwaitQuirk => "disable quirk MISC_ENABLE_NO_MWAIT",
        YardstickEventKind.VmwriteGuestOsXsave => "VMWRITE GUEST_CR4.OSXSAVE toggle",
        YardstickEventKind.VmwriteGuestPke => "VMWRITE GUEST_CR4.PKE toggle",
        YardstickEventKind.VmwriteHostOsXsave => "VMWRITE HOST_CR4.OSXSAVE toggle",
        YardstickEventKind.VmwriteHostPke => "VMWRITE HOST_CR4.PKE toggle",
        YardstickEventKind.VmEntry => "VM-entry",
        YardstickEventKind.VmExit => "VM-exit",
        YardstickEventKind.Cpuid => "CPUID (L1)",
        YardstickEventKind.GetCpuid2 => "KVM_GET_CPUID2",
        _ => Kind.ToString(),
    };
}
