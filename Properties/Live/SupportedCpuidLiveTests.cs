using CpuidFunctional.Oracle;

namespace CpuidFunctional.Properties.Live;

/// <summary>
/// The bits of KVM_GET_SUPPORTED_CPUID the model knows (<see cref="SupportedCpuid"/>) against this machine's kernel
/// (or the TCG guest's), on the model's host built for it (<see cref="LiveKernel.Host"/>) and the kernel's profile.
/// Skipped where /dev/kvm is unusable.
/// </summary>
public class SupportedCpuidLiveTests
{
    [Fact]
    public void Every_bit_the_model_knows_of_KVM_GET_SUPPORTED_CPUID_is_the_kernels()
    {
        using var kvm = LiveKernel.OpenOrSkip();
        var supported = LiveKernel.Supported(kvm);
        var host = LiveKernel.Host(kvm);
        var profile = LiveKernelIdentity.Current.Profile!.Value;
        var vm = LiveKvmTarget.ModelVm(host, profile);
        var agree = 0;
        var excused = new List<string>();
        var differ = new List<string>();
        (uint Leaf, uint Subleaf)[] leaves = [(1, 0), (7, 0), (0xD, 0), (0xD, 1), (0x4000_0000, 0)];
        foreach (var (leaf, sub) in leaves)
        {
            foreach (var register in new[] { CpuidRegister.Eax, CpuidRegister.Ebx, CpuidRegister.Ecx, CpuidRegister.Edx })
            {
                var known = SupportedCpuid.Answer(vm, leaf, sub, register);
                if (known.Mask == 0)
                {
                    continue;
                }
                var actual = supported.Find(leaf, sub) is { } entry ? entry.Get(register) : 0;
                if ((actual & known.Mask) == known.Value)
                {
                    agree++;
                }
                else if (IsPvmWithoutXsave(leaf, register, actual, known))
                {
                    excused.Add($"0x{leaf:x}.{sub} {register}: kvm_pvm leaves XSAVE out (kernel 0x{actual:x}), a recorded vendor behaviour");
                }
                else
                {
                    differ.Add($"0x{leaf:x}.{sub} {register}: model 0x{known.Value:x} under mask 0x{known.Mask:x}, kernel 0x{actual:x}");
                }
            }
        }
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"KVM_GET_SUPPORTED_CPUID on {KvmSystem.KernelRelease}: {agree} registers agree, {excused.Count} differ as a recorded vendor behaviour, {differ.Count} differ"
        );
        excused.ForEach(line => TestContext.Current.TestOutputHelper?.WriteLine(line));

        Assert.True(differ.Count == 0, string.Join("\n", differ));
    }

    /// <summary>
    /// kvm_pvm's capabilities leave XSAVE (CPUID.1:ECX[26]) out where the host has it (builds v1252 and v1300,
    /// docs/live-kernel.md): under PVM, and only there, that bit alone may read 0 where the model says 1.
    /// </summary>
    private static bool IsPvmWithoutXsave(uint leaf, CpuidRegister register, uint actual, SupportedCpuid.Known known)
    {
        const uint xsave = 1u << 26;
        return LiveKernelIdentity.Current.IsPvm && leaf == 1 && register == CpuidRegister.Ecx
            && ((actual ^ known.Value) & known.Mask) == xsave && (actual & xsave) == 0;
    }
}
