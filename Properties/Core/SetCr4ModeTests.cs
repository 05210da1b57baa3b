using CpuidFunctional.Core.Dynamic;
using static CpuidFunctional.Properties.Core.TestHosts;

namespace CpuidFunctional.Properties.Core;

/// <summary>
/// What <c>kvm_set_cr4</c> checks after <c>kvm_is_valid_cr4</c>, against the mode KVM_SET_SREGS put the vCPU in (kvm-unit-tests
/// x86/pcid.c and la57.c test the same on hardware): in long mode PAE stays set and LA57 does not change; PCIDE turns on
/// only in long mode; from 6.18 CET needs CR0.WP. And <c>vmx_is_valid_cr4</c>: no CR4.VMXE in SMM on a VMX host.
/// KVM_SET_SREGS itself checks none of the mode rules, only <c>kvm_is_valid_sregs</c>.
/// </summary>
public class SetCr4ModeTests
{
    private static readonly Observation Gp = new Observation.Fault(X86Exception.GP);
    private static readonly Observation Ok = new Observation.IoctlDone(0);
    private static readonly Observation Einval = new Observation.IoctlError(Errno.EINVAL);

    private const ulong LongModeCr0 = Cr0.Pe | Cr0.Et | Cr0.Wp | Cr0.Pg;
    private const ulong LongModeEfer = Efer.Lme | Efer.Lma;

    private static VcpuEvent.SetSregs Sregs(ulong cr4, ulong cr0, ulong efer) => new(cr4, Msr.ApicBaseDefault) { Cr0 = cr0, Efer = efer };

    /// <summary>The Sapphire Rapids guest, run, then KVM_SET_SREGS into the given mode; asserts the guest has the CR4 features used here.</summary>
    private static KvmState InMode(ulong cr4, ulong cr0, ulong efer, KernelProfile profile = KernelProfile.Linux6_18)
    {
        foreach (var f in new[] { GuestFeature.La57, GuestFeature.Pcid, GuestFeature.Ibt })
        {
            Assert.True(f.In(CetGuest), $"the Sapphire Rapids guest table should have {f.Name}");
        }
        var (s, seen) = Run(Policy.Lazy, RunningWithCet(Policy.Lazy, profile), Sregs(cr4, cr0, efer));
        Assert.Equal(Ok, seen[^1]);
        return s;
    }

    private static Observation? MovToCr4(KvmState s, ulong cr4) => Kvm.Step(Policy.Lazy, s, new VcpuEvent.MovToCr4(cr4)).Observation;

    [Fact]
    public void In_long_mode_a_MOV_to_CR4_may_not_clear_PAE_and_outside_it_it_may()
    {
        Assert.Equal(Gp, MovToCr4(InMode(Cr4.Pae | Cr4.OsXsave, LongModeCr0, LongModeEfer), Cr4.OsXsave));
        Assert.Null(MovToCr4(InMode(Cr4.Pae | Cr4.OsXsave, Cr0.Pe | Cr0.Et, 0), Cr4.OsXsave));
    }

    [Fact]
    public void In_long_mode_a_MOV_to_CR4_may_not_change_LA57_either_way_but_KVM_SET_SREGS_may()
    {
        var fourLevel = InMode(Cr4.Pae, LongModeCr0, LongModeEfer);
        Assert.Equal(Gp, MovToCr4(fourLevel, Cr4.Pae | Cr4.La57));
        Assert.Null(MovToCr4(fourLevel, Cr4.Pae | Cr4.OsXsave)); // LA57 unchanged: fine

        var fiveLevel = InMode(Cr4.Pae | Cr4.La57, LongModeCr0, LongModeEfer);
        Assert.Equal(Gp, MovToCr4(fiveLevel, Cr4.Pae));
        Assert.Equal(Ok, Kvm.Step(Policy.Lazy, fiveLevel, Sregs(Cr4.Pae, LongModeCr0, LongModeEfer)).Observation);

        Assert.Null(MovToCr4(InMode(Cr4.Pae, Cr0.Pe | Cr0.Et, 0), Cr4.Pae | Cr4.La57)); // outside long mode
    }

    [Fact]
    public void PCIDE_turns_on_only_in_long_mode_and_once_on_it_may_stay_on_outside_it()
    {
        Assert.Null(MovToCr4(InMode(Cr4.Pae, LongModeCr0, LongModeEfer), Cr4.Pae | Cr4.Pcide));
        Assert.Equal(Gp, MovToCr4(InMode(Cr4.Pae, Cr0.Pe | Cr0.Et, 0), Cr4.Pae | Cr4.Pcide));

        // KVM_SET_SREGS does not check it; a MOV that keeps PCIDE is not turning it on.
        var pcideOutsideLongMode = InMode(Cr4.Pae | Cr4.Pcide, Cr0.Pe | Cr0.Et, 0);
        Assert.Null(MovToCr4(pcideOutsideLongMode, Cr4.Pae | Cr4.Pcide | Cr4.OsXsave));
    }

    [Fact]
    public void On_6_18_a_MOV_to_CR4_may_set_CET_only_with_CR0_WP()
    {
        Assert.Equal(Gp, MovToCr4(InMode(Cr4.Pae, Cr0.Pe | Cr0.Et | Cr0.Pg, LongModeEfer), Cr4.Pae | Cr4.Cet));
        Assert.Null(MovToCr4(InMode(Cr4.Pae, LongModeCr0, LongModeEfer), Cr4.Pae | Cr4.Cet));
    }

    /// <summary>Before the CET series CR4.CET is not in <c>CR4_RESERVED_BITS</c>' allow-list: refused whatever the guest's CPUID says.</summary>
    [Theory]
    [InlineData(KernelProfile.Linux6_15)]
    [InlineData(KernelProfile.Linux6_1)]
    public void Before_6_18_CR4_CET_is_reserved_even_for_a_guest_with_shadow_stacks_and_IBT(KernelProfile profile)
    {
        var s = Run(Policy.Lazy, KvmState.WithCpuid(new Vm(Cet, profile), Policy.Lazy, CetGuest), new VcpuEvent.Run()).State;
        Assert.Equal(Gp, MovToCr4(s, Cr4.Cet));
        Assert.Equal(Einval, Kvm.Step(Policy.Lazy, s, new VcpuEvent.SetSregs(Cr4.Cet, Msr.ApicBaseDefault)).Observation);
    }

    [Fact]
    public void A_refused_MOV_to_CR4_changes_nothing_and_marks_no_update()
    {
        var s = InMode(Cr4.Pae, LongModeCr0, LongModeEfer);
        var t = Kvm.Step(Policy.Eager, s, new VcpuEvent.MovToCr4(Cr4.OsXsave)); // clears PAE: refused before the OSXSAVE trigger
        Assert.Equal(Gp, t.Observation);
        Assert.Same(s.Vcpu, t.State.Vcpu);
        Assert.Equal(default, t.Effort);
    }

    [Fact]
    public void On_a_VMX_host_CR4_VMXE_is_refused_in_SMM_by_MOV_and_by_KVM_SET_SREGS_and_allowed_again_after_RSM()
    {
        Assert.True(GuestFeature.Vmx.In(SkylakeGuest), "the Skylake guest table should have VMX");
        var inSmm = Run(Policy.Lazy, Running(Policy.Lazy), new VcpuEvent.EnterSmm()).State;
        Assert.True(inSmm.Vcpu.InSmm);
        Assert.Equal(Gp, MovToCr4(inSmm, Cr4.Vmxe));
        Assert.Null(MovToCr4(inSmm, Cr4.OsXsave)); // any other valid bit is fine in SMM
        Assert.Equal(Einval, Kvm.Step(Policy.Lazy, inSmm, new VcpuEvent.SetSregs(Cr4.Vmxe, Msr.ApicBaseDefault)).Observation);

        var left = Run(Policy.Lazy, inSmm, new VcpuEvent.Rsm()).State;
        Assert.False(left.Vcpu.InSmm);
        Assert.Null(MovToCr4(left, Cr4.Vmxe | Cr4.OsXsave));
    }

    /// <summary>
    /// <c>enter_smm</c> clears CR0.PG through the vendor <c>set_cr0</c>, which leaves long mode (EFER.LMA) whether or not
    /// the guest has LM; only a guest with LM then gets EFER 0. So in SMM the guest is out of long mode and may clear
    /// CR4.PAE, and RSM brings back the EFER it saved.
    /// </summary>
    [Fact]
    public void SMM_entry_leaves_long_mode_even_for_a_guest_without_LM_in_its_CPUID()
    {
        var policy = Policy.Lazy;
        var fresh = KvmState.Create(Vm(), policy); // no KVM_SET_CPUID2: no LM
        Assert.False(GuestCpuCaps.Has(fresh.Vcpu, GuestFeature.Lm));
        const ulong longMode = Efer.Lme | Efer.Lma;
        var (s, o) = Run(
            policy,
            fresh,
            new VcpuEvent.SetSregs(Cr4.Pae, Msr.ApicBaseDefault) { Cr0 = Cr0.Pg | Cr0.Pe | Cr0.Et, Efer = longMode },
            new VcpuEvent.Run(),
            new VcpuEvent.EnterSmm(),
            new VcpuEvent.GetSregs(),
            new VcpuEvent.MovToCr4(0),
            new VcpuEvent.Rsm(),
            new VcpuEvent.GetSregs()
        );

        Assert.Equal(new Observation.IoctlDone(0), o[0]);
        Assert.Equal(Efer.Lme, Assert.IsType<Observation.Sregs>(o[3]).Efer);
        Assert.Null(o[4]); // outside long mode CR4.PAE may go
        Assert.Equal(longMode, Assert.IsType<Observation.Sregs>(o[6]).Efer);
        Assert.False(s.Vcpu.InSmm);
    }

    [Fact]
    public void On_an_SVM_host_the_vendor_hook_has_no_SMM_rule()
    {
        var amd = new Vm(HostPresets.Genoa, KernelProfile.Linux6_18);
        Assert.True(amd.Host.IsAmdOrHygon);
        var smm = Run(Policy.Lazy, Running(Policy.Lazy), new VcpuEvent.EnterSmm()).State.Vcpu;
        Assert.True(Kvm.VendorIsValidCr4(amd, smm, Cr4.Vmxe));
        Assert.False(Kvm.VendorIsValidCr4(Vm(), smm, Cr4.Vmxe));
        Assert.True(Kvm.VendorIsValidCr4(Vm(), smm, Cr4.OsXsave));
    }
}
