using CpuidFunctional.Oracle;

namespace CpuidFunctional.Properties.Live;

/// <summary>
/// The oracle's SVM round trip (<see cref="SvmL1Harness"/>: L1 at CR4, VMRUN into L2 at vmcb12's save.cr4, L2's
/// CPUID(1) and VMMCALL, L1's CPUID(1) after the #VMEXIT) on the real kvm_amd, against Core's Eager policy on the
/// kernel's profile for the same events: KVM_SET_CPUID2, KVM_SET_SREGS, KVM_RUN, VMRUN, the L2 CPUID (answered by
/// L0, or an exit to L1 with 0x72), the #VMEXIT and L1's CPUID. Every observation must agree: L2's answer, the exit
/// code, L1's answer. Runs wherever kvm_amd with nested=1 is (inside the QEMU TCG guest of the 6.1 kernel).
/// </summary>
public class NestedSvmLiveComparisonTests
{
    private static readonly ulong[] Cr4s = [0, Cr4.OsXsave, Cr4.Pke, Cr4.OsXsave | Cr4.Pke];

    // L2 also gets a CR4 with bit 31, reserved on every CPU, so that VMRUN fails its consistency checks (VMEXIT_INVALID).
    private static readonly ulong[] L2Cr4s = [.. Cr4s, Cr4.OsXsave | (1ul << 31)];

    [Fact]
    public void Eager_on_the_kernels_profile_agrees_with_kvm_amd_on_every_SVM_round_trip_observation()
    {
        using var kvm = LiveKernel.OpenOrSkip();
        var identity = LiveKernelIdentity.Current;
        if (identity.VendorModule != "kvm_amd" || !kvm.Probe().NestedState || identity.Profile is not { } profile)
        {
            Assert.Skip($"nested SVM needs kvm_amd with nested=1 and a modelled release; {identity}");
            return;
        }
        var table = LiveKernel.Supported(kvm);
        var vm = new Vm(LiveKernel.Host(kvm), profile);
        var (agree, differ) = (0, new List<string>());
        foreach (var l1Cr4 in Cr4s)
        {
            foreach (var l2Cr4 in L2Cr4s)
            {
                foreach (var intercept in (bool[])[false, true])
                {
                    if (Model(vm, table, l1Cr4, l2Cr4, intercept) is not { } model)
                    {
                        continue; // this kernel's guest cannot have that L1 CR4 (KVM_SET_SREGS refuses it)
                    }
                    var live = SvmL1Harness.Run(kvm, table, l1Cr4, l2Cr4, intercept);
                    if (live is not IoctlResult<SvmRoundTrip>.Ok(var trip))
                    {
                        Assert.Fail($"L1 CR4 {l1Cr4:x}, L2 CR4 {l2Cr4:x}, intercept {intercept}: the round trip did not complete: {live}");
                        return;
                    }
                    foreach (var (what, expected, actual) in Compare(model, trip))
                    {
                        if (expected == actual)
                        {
                            agree++;
                        }
                        else
                        {
                            differ.Add($"L1 CR4 {l1Cr4:x}, L2 CR4 {l2Cr4:x}, intercept {intercept}: {what}: model {expected}, kvm_amd {actual}");
                        }
                    }
                }
            }
        }
        TestContext.Current.TestOutputHelper?.WriteLine($"nested SVM live comparison on {identity.Release}: {agree} observations agree, {differ.Count} differ");
        Assert.True(differ.Count == 0, string.Join("\n", differ));
    }

    /// <summary>
    /// What the model sees at the harness's observations: the exit code (VMEXIT_INVALID, all 64 bits set as the stable
    /// kernels write it, if save.cr4 fails <c>__kvm_is_valid_cr4</c>; 0x72 if L2's CPUID exits; else the harness's VMMCALL), L2's
    /// CPUID(1) answer if L0 gave one, and L1's after the #VMEXIT. Null if KVM_SET_SREGS refuses L1's CR4.
    /// </summary>
    private static (ulong Exit, Observation? L2, Observation? L1)? Model(Vm vm, CpuidTable table, ulong l1Cr4, ulong l2Cr4, bool intercept)
    {
        const ulong Pse = 1ul << 4; // the harness's L1 pages with a 4 MiB PSE page
        var (state, seen, _) = Kvm.Run(
            Policy.Eager,
            KvmState.Create(vm, Policy.Eager),
            [new VcpuEvent.SetCpuid2(table), new VcpuEvent.SetSregs(l1Cr4 | Pse, Msr.ApicBaseDefault), new VcpuEvent.Run()]
        );
        if (seen[1] is not Observation.IoctlDone)
        {
            return null;
        }
        if (!Kvm.IsValidCr4(state.Vcpu, l2Cr4))
        {
            return (SvmExitCode.Invalid, null, Kvm.Step(Policy.Eager, state, new VcpuEvent.Cpuid(1, 0)).Observation);
        }
        state = Kvm.Step(Policy.Eager, state, new VcpuEvent.NestedSvmVmrun(l2Cr4, intercept ? Vmcb12Intercepts.Cpuid : Vmcb12Intercepts.None)).State;
        var l2 = Kvm.Step(Policy.Eager, state, new VcpuEvent.Cpuid(1, 0));
        var exited = Kvm.Step(Policy.Eager, l2.State, new VcpuEvent.NestedSvmVmexit());
        var l1 = Kvm.Step(Policy.Eager, exited.State, new VcpuEvent.Cpuid(1, 0));
        var exit = l2.Observation is Observation.SvmExitToL1(var code) ? code : SvmRoundTrip.ExitVmmcall;
        return (exit, l2.Observation, l1.Observation);
    }

    private static IEnumerable<(string What, string Expected, string Actual)> Compare((ulong Exit, Observation? L2, Observation? L1) model, SvmRoundTrip trip)
    {
        yield return ("exit code", $"0x{model.Exit:x}", $"0x{trip.ExitCode:x}");
        if (model.L2 is Observation.CpuidResult l2)
        {
            yield return ("L2 CPUID.1", Registers(l2), Registers(trip.L2Cpuid1));
        }
        yield return ("L1 CPUID.1 after the #VMEXIT", model.L1 is Observation.CpuidResult l1 ? Registers(l1) : $"{model.L1}", Registers(trip.L1Cpuid1AfterExit));
    }

    private static string Registers(Observation.CpuidResult r) => $"{r.Eax:x8} {r.Ebx:x8} {r.Ecx:x8} {r.Edx:x8}";

    private static string Registers(CpuidEntry e) => $"{e.Eax:x8} {e.Ebx:x8} {e.Ecx:x8} {e.Edx:x8}";
}
