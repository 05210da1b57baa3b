using CpuidFunctional.Oracle;

namespace CpuidFunctional.Properties.Live;

/// <summary>
/// KVM_CHECK_EXTENSION for every capability the model answers (<see cref="CheckExtension.Known"/>), asked of this
/// machine's kernel (or the TCG guest's) on /dev/kvm and on a new VM, against the model's answer on the host built
/// for the kernel (<see cref="LiveKernel.Host"/>) with its profile, the profile's own quirk mask included (the other
/// live tests give the model the kernel's). The oracle's process never asks for AMX tile data, as
/// <see cref="LiveKvmTarget.ModelVm"/> says. Skipped where /dev/kvm is unusable.
/// </summary>
public class CheckExtensionLiveTests
{
    public static TheoryData<string> Capabilities => [.. CheckExtension.Known.Select(CheckExtension.KvmName)];

    [Theory]
    [MemberData(nameof(Capabilities))]
    public void The_kernel_answers_KVM_CHECK_EXTENSION_as_the_model_does_on_dev_kvm_and_on_a_VM(string capability)
    {
        using var kvm = LiveKernel.OpenOrSkip();
        var cap = CheckExtension.Known.Single(c => CheckExtension.KvmName(c) == capability);
        var profile = LiveKernelIdentity.Current.Profile ?? throw new InvalidOperationException("no profile");
        var model = CheckExtension.Answer(LiveKvmTarget.ModelVm(LiveKernel.Host(kvm), profile), cap);

        var system = kvm.CheckExtension(cap);
        using var vm = ((IoctlResult<LiveVm>.Ok)kvm.CreateVm()).Value;
        var onVm = vm.CheckExtension(cap);

        if (IsPvmWithoutIgnoreGuestPat(cap, model, system) && IsPvmWithoutIgnoreGuestPat(cap, model, onVm))
        {
            TestContext.Current.TestOutputHelper?.WriteLine(
                $"{capability}: kvm_pvm leaves IGNORE_GUEST_PAT out (kernel {Show(system)}, model {Show(model)}), a recorded vendor behaviour");
            return;
        }
        // One string each, so that a failure shows the model's answer next to both of the kernel's.
        Assert.Equal($"{capability}: /dev/kvm {Show(model)}, VM {Show(model)}", $"{capability}: /dev/kvm {Show(system)}, VM {Show(onVm)}");
    }

    /// <summary>
    /// kvm_pvm pages in software, and 6.16+ offers KVM_X86_QUIRK_IGNORE_GUEST_PAT only with two-dimensional paging
    /// (<c>kvm_x86_vendor_init</c>), which the model takes every host to have (<see cref="KernelProfiles.SupportedQuirks"/>):
    /// under PVM, and only there, KVM_CAP_DISABLE_QUIRKS2 may lack that one bit (0x5FF on builds v1252 and v1300).
    /// </summary>
    private static bool IsPvmWithoutIgnoreGuestPat(KvmCapability cap, int? model, IoctlResult<int> kernel) =>
        LiveKernelIdentity.Current.IsPvm && cap == KvmCapability.DisableQuirks2 && model is { } m
        && kernel is IoctlResult<int>.Ok(var k) && (ulong)(m ^ k) == (ulong)KvmQuirks.IgnoreGuestPat && (k & (int)KvmQuirks.IgnoreGuestPat) == 0;

    private static string Show(int? value) => value is { } v ? $"0x{v:x}" : "(unknown to the model)";

    private static string Show(IoctlResult<int> result) =>
        result switch
        {
            IoctlResult<int>.Ok(var v) => $"0x{v:x}",
            IoctlResult<int>.Failed f => f.ToString(),
            _ => throw new System.Diagnostics.UnreachableException(),
        };
}
