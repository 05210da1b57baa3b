using CpuidFunctional.Core.Dynamic;
using static CpuidFunctional.Properties.Core.TestHosts;

namespace CpuidFunctional.Properties.Core;

/// <summary>
/// IA32_EFER through KVM_SET_MSRS, KVM_GET_MSRS and the guest's WRMSR/RDMSR (<c>set_efer</c>): the host may set the
/// bits KVM leaves free (<c>efer_reserved_bits</c>), the guest only those its CPUID allows (<c>__kvm_valid_efer</c>)
/// and no change of LME while paging is on; LMA stays KVM's. The live differential checks the host writes against the
/// machine's kernel and 6.1.192.
/// </summary>
public class EferMsrTests
{
    private static readonly Observation Ok1 = new Observation.IoctlDone(1);
    private static readonly Observation Ok0 = new Observation.IoctlDone(0);

    private static KvmState Running(HostCpu host, CpuidTable table, KernelProfile profile = KernelProfile.Linux6_18)
    {
        var s = KvmState.WithCpuid(new Vm(host, profile), Policy.Eager, table);
        return Kvm.Step(Policy.Eager, s, new VcpuEvent.Run()).State;
    }

    private static Observation? SetEfer(KvmState s, ulong value) =>
        Kvm.Step(Policy.Eager, s, new VcpuEvent.SetMsrs(new ValueArray<MsrEntry>([new MsrEntry(Msr.Efer, value)]))).Observation;

    private static CpuidTable Without(CpuidTable t, GuestFeature f) =>
        CpuidTable.Of(t.Entries.Select(e => e.Function == f.Leaf && e.Index == f.Subleaf ? e.WithBit(f.Register, f.Bit, false) : e));

    [Fact]
    public void KVM_SET_MSRS_sets_EFER_within_the_bits_KVM_leaves_free_and_KVM_GET_MSRS_reads_it_back()
    {
        var s = Running(Skylake, SkylakeGuest);
        Assert.Equal(Ok1, SetEfer(s, Efer.Sce | Efer.Nxe));
        var t = Kvm.Step(Policy.Eager, s, new VcpuEvent.SetMsrs(new ValueArray<MsrEntry>([new MsrEntry(Msr.Efer, Efer.Sce | Efer.Nxe)]))).State;
        Assert.Equal(
            new Observation.Msrs(new ValueArray<MsrEntry>([new MsrEntry(Msr.Efer, Efer.Sce | Efer.Nxe)])),
            Kvm.Step(Policy.Eager, t, new VcpuEvent.GetMsrs(new ValueArray<uint>([Msr.Efer]))).Observation);
        Assert.Equal(Ok0, SetEfer(s, Efer.Svme)); // kvm_intel: SVME is reserved
        Assert.Equal(Ok0, SetEfer(s, 1ul << 1));
        Assert.Equal(Ok0, SetEfer(s, 1ul << 63));
    }

    [Fact]
    public void The_host_may_set_kvm_amds_extra_bits_whatever_the_guest_CPUID_says_and_AUTOIBRS_only_from_6_3()
    {
        var amdTable = Without(Without(HostPresets.Genoa.Cpuid, GuestFeature.Svm), GuestFeature.Nx);
        var s = Running(HostPresets.Genoa, amdTable);
        Assert.Equal(Ok1, SetEfer(s, Efer.Svme | Efer.Lmsle | Efer.Nxe | Efer.Ffxsr));
        var autoIbrs = HostPresets.Genoa.HasAutoIbrs;
        Assert.Equal(autoIbrs ? Ok1 : Ok0, SetEfer(s, Efer.AutoIbrs));
        Assert.Equal(Ok0, SetEfer(Running(HostPresets.Genoa, amdTable, KernelProfile.Linux6_1), Efer.AutoIbrs));
    }

    [Fact]
    public void The_guest_may_set_only_the_bits_its_CPUID_allows_and_may_not_change_LME_while_paging_is_on()
    {
        var noNx = Running(Skylake, Without(SkylakeGuest, GuestFeature.Nx));
        Assert.Equal(new Observation.Fault(X86Exception.GP), Kvm.Step(Policy.Eager, noNx, new VcpuEvent.Wrmsr(Msr.Efer, Efer.Nxe)).Observation);
        Assert.Equal(Ok1, SetEfer(noNx, Efer.Nxe)); // the host is not held to the guest's CPUID

        var s = Running(Skylake, SkylakeGuest);
        var lme = Kvm.Step(Policy.Eager, s, new VcpuEvent.Wrmsr(Msr.Efer, Efer.Lme | Efer.Nxe)).State; // paging off: fine
        Assert.Equal(Efer.Lme | Efer.Nxe, lme.Vcpu.Efer);
        var paging = Kvm.Step(Policy.Eager, s, new VcpuEvent.SetSregs(0, s.Vcpu.ApicBase) { Cr0 = Cr0.Pe | Cr0.Pg | Cr0.Et, Efer = 0 }).State;
        Assert.Equal(Cr0.Pe | Cr0.Pg | Cr0.Et, paging.Vcpu.Cr0);
        Assert.Equal(new Observation.Fault(X86Exception.GP), Kvm.Step(Policy.Eager, paging, new VcpuEvent.Wrmsr(Msr.Efer, Efer.Lme)).Observation);
        Assert.Equal(Ok1, SetEfer(paging, Efer.Lme)); // KVM_SET_MSRS skips that check
    }

    [Fact]
    public void Under_kvm_amd_clearing_SVME_while_L2_runs_leaves_nested_mode_and_keeps_L2s_CR4()
    {
        var s = Running(HostPresets.Genoa, HostPresets.Genoa.Cpuid);
        s = Kvm.Step(Policy.Eager, s, new VcpuEvent.SetMsrs(new ValueArray<MsrEntry>([new MsrEntry(Msr.Efer, Efer.Svme)]))).State;
        s = Kvm.Step(Policy.Eager, s, new VcpuEvent.NestedSvmVmrun(Cr4.Pae | Cr4.OsXsave, Vmcb12Intercepts.None)).State;
        Assert.True(s.Vcpu.GuestMode);
        var t = Kvm.Step(Policy.Eager, s, new VcpuEvent.SetMsrs(new ValueArray<MsrEntry>([new MsrEntry(Msr.Efer, 0)])));
        Assert.Equal(Ok1, t.Observation);
        Assert.False(t.State.Vcpu.GuestMode);
        Assert.Null(t.State.Vcpu.Nested);
        Assert.Equal(s.Vcpu.Cr4, t.State.Vcpu.Cr4); // svm_leave_nested loads no CR4
    }

    [Fact]
    public void KVM_SET_SREGS_clearing_SVME_while_L2_runs_leaves_nested_mode_too_but_not_in_SMM_and_not_under_VMX()
    {
        var s = Running(HostPresets.Genoa, HostPresets.Genoa.Cpuid);
        s = Kvm.Step(Policy.Eager, s, new VcpuEvent.SetMsrs(new ValueArray<MsrEntry>([new MsrEntry(Msr.Efer, Efer.Svme)]))).State;
        s = Kvm.Step(Policy.Eager, s, new VcpuEvent.NestedSvmVmrun(Cr4.Pae, Vmcb12Intercepts.None)).State;
        var sregs = Kvm.Step(Policy.Eager, s, new VcpuEvent.SetSregs(Cr4.Pae, s.Vcpu.ApicBase) { Efer = 0 }).State;
        Assert.False(sregs.Vcpu.GuestMode);
        // In SMM (entered from L2) the write keeps what RSM returns to.
        var smm = Kvm.Step(Policy.Eager, s, new VcpuEvent.EnterSmm()).State;
        var inSmm = Kvm.Step(Policy.Eager, smm, new VcpuEvent.SetMsrs(new ValueArray<MsrEntry>([new MsrEntry(Msr.Efer, 0)]))).State;
        Assert.Equal(smm.Vcpu.GuestMode, inSmm.Vcpu.GuestMode);
        Assert.Equal(smm.Vcpu.Nested, inSmm.Vcpu.Nested);
        // kvm_intel's vmx_set_efer leaves L2 where it is.
        var vmx = Kvm.Step(Policy.Eager, Running(Skylake, SkylakeGuest), new VcpuEvent.NestedVmEntry(Cr4.Pae)).State;
        Assert.True(vmx.Vcpu.GuestMode);
        Assert.True(Kvm.Step(Policy.Eager, vmx, new VcpuEvent.SetMsrs(new ValueArray<MsrEntry>([new MsrEntry(Msr.Efer, Efer.Sce)]))).State.Vcpu.GuestMode);
    }

    [Fact]
    public void The_guests_AUTOIBRS_and_long_mode_bits_need_its_CPUID()
    {
        var hostTable = CpuidTable.Of(HostPresets.Genoa.Cpuid.Entries.Select(e => e.Function == 0x8000_0021 ? e.WithBit(CpuidRegister.Eax, 8, true) : e));
        var host = HostCpu.FromCpuid("genoa with AutoIBRS", hostTable);
        var withAll = Running(host, hostTable);
        Assert.Equal(Ok1, Kvm.Step(Policy.Eager, withAll, new VcpuEvent.SetMsrs(new ValueArray<MsrEntry>([new MsrEntry(Msr.Efer, Efer.AutoIbrs)]))).Observation);
        Assert.Equal(Efer.AutoIbrs, Kvm.Step(Policy.Eager, withAll, new VcpuEvent.Wrmsr(Msr.Efer, Efer.AutoIbrs)).State.Vcpu.Efer);
        var noAutoIbrs = Running(host, Without(hostTable, GuestFeature.AutoIbrs));
        Assert.Equal(new Observation.Fault(X86Exception.GP), Kvm.Step(Policy.Eager, noAutoIbrs, new VcpuEvent.Wrmsr(Msr.Efer, Efer.AutoIbrs)).Observation);
        var noLm = Running(host, Without(hostTable, GuestFeature.Lm));
        Assert.Equal(new Observation.Fault(X86Exception.GP), Kvm.Step(Policy.Eager, noLm, new VcpuEvent.Wrmsr(Msr.Efer, Efer.Lme)).Observation);
        Assert.Equal(Ok1, Kvm.Step(Policy.Eager, noLm, new VcpuEvent.SetMsrs(new ValueArray<MsrEntry>([new MsrEntry(Msr.Efer, Efer.Lme)]))).Observation);
    }

    [Fact]
    public void LMA_written_through_the_MSR_is_ignored_KVM_keeps_its_own()
    {
        var s = Running(Skylake, SkylakeGuest);
        var t = Kvm.Step(Policy.Eager, s, new VcpuEvent.SetMsrs(new ValueArray<MsrEntry>([new MsrEntry(Msr.Efer, Efer.Lma | Efer.Sce)])));
        Assert.Equal(Ok1, t.Observation);
        Assert.Equal(Efer.Sce, t.State.Vcpu.Efer);
    }
}
