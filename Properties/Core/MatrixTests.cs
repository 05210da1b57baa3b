using static CpuidFunctional.Properties.Core.TestHosts;

namespace CpuidFunctional.Properties.Core;

/// <summary>The validity matrices of XSETBV, KVM_SET_XCRS and IA32_APIC_BASE, as the live kernel showed them (shared/kvm S4, S5).</summary>
public class MatrixTests
{
    private static readonly Policy Lazy = Policy.Lazy;

    public static TheoryData<ulong, uint, string> Xsetbv => new()
    {
        { 0x0, 0, "x87 missing" },
        { 0x2, 0, "x87 missing" },
        { 0x5, 0, "YMM without SSE" },
        { 0xF, 0, "BNDREGS needs BNDCSR (both or none)" },
        { 0x17, 0, "BNDCSR alone" },
        { 0x27, 0, "partial AVX-512" },
        { 0x67, 0, "partial AVX-512" },
        { 0xE3, 0, "AVX-512 without YMM" },
        { 0x107, 0, "bit 8 is a supervisor (XSS) component" },
        { 0x20007, 0, "AMX not supported by the host" },
        { 0x1_0000_0007, 0, "bit 32" },
        { 0x8000_0000_0000_0007, 0, "bit 63" },
        { 0x1, 1, "XCR1 is not writable" },
    };

    [Theory]
    [MemberData(nameof(Xsetbv))]
    public void XSETBV_refuses_invalid_values_with_GP_and_KVM_SET_XCRS_with_EINVAL(ulong value, uint index, string why)
    {
        var s = Running(Lazy);
        var guest = Kvm.Step(Lazy, s, new VcpuEvent.Xsetbv(index, value));
        Assert.True(guest.Observation == new Observation.Fault(X86Exception.GP), $"XSETBV {value:x}: {why}");
        Assert.Equal(0x7ul, guest.State.Vcpu.Xcr0);
        if (index == 0)
        {
            var host = Kvm.Step(Lazy, s, new VcpuEvent.SetXcrs(value));
            Assert.Equal(new Observation.IoctlError(Errno.EINVAL), host.Observation);
            Assert.Same(s.Vcpu, host.State.Vcpu);
        }
    }

    [Theory]
    [InlineData(0x1ul)]
    [InlineData(0x3ul)]
    [InlineData(0x7ul)]
    [InlineData(0x1Ful)]
    [InlineData(0xE7ul)]
    [InlineData(0x2E7ul)]
    [InlineData(0x2FFul)]
    [InlineData(0x207ul)]
    public void XSETBV_accepts_valid_Skylake_masks(ulong value)
    {
        var t = Kvm.Step(Lazy, Running(Lazy), new VcpuEvent.Xsetbv(0, value));
        Assert.Null(t.Observation);
        Assert.Equal(value, t.State.Vcpu.Xcr0);
    }

    [Fact]
    public void XSETBV_without_CR4_OSXSAVE_is_UD_and_at_CPL3_is_GP()
    {
        var s = Kvm.Step(Lazy, Running(Lazy), new VcpuEvent.MovToCr4(0)).State;
        Assert.Equal(new Observation.Fault(X86Exception.UD), Kvm.Step(Lazy, s, new VcpuEvent.Xsetbv(0, 0x3)).Observation);
        Assert.Equal(new Observation.Fault(X86Exception.UD), Kvm.Step(Lazy, s, new VcpuEvent.Xsetbv(0, 0x0)).Observation);

        var user = Kvm.Step(Lazy, Running(Lazy), new VcpuEvent.SetCpl(3)).State;
        Assert.Equal(new Observation.Fault(X86Exception.GP), Kvm.Step(Lazy, user, new VcpuEvent.Xsetbv(0, 0x3)).Observation);
    }

    /// <summary>Guest WRMSR 0x1B, in the order of the live-kernel table S5: value, whether it is accepted, APIC bit after.</summary>
    private static readonly (ulong Value, bool Accepted, bool Apic)[] ApicSequence =
    [
        (0xFEE0_0100, true, false),
        (0xFEE0_0900, true, true),
        (0xFEE0_0500, false, true),
        (0xFEE0_0D00, true, true),
        (0xFEE0_0900, false, true),
        (0xFEE0_0500, false, true),
        (0xFEE0_0100, true, false),
        (0xFEE0_0D00, false, false),
        (0xFEE0_0500, false, false),
        (0xFEE0_0901, false, false),
        (0xFEE0_0900, true, true),
    ];

    [Fact]
    public void Guest_APIC_BASE_writes_follow_the_legal_transitions_and_CPUID_APIC_follows_the_enable_bit()
    {
        var s = Running(Lazy);
        var step = 0;
        foreach (var (value, accepted, apic) in ApicSequence)
        {
            step++;
            var before = s.Vcpu.ApicBase;
            var t = Kvm.Step(Lazy, s, new VcpuEvent.Wrmsr(Msr.ApicBase, value));
            Assert.True(accepted == t.Observation is null, $"step {step}: WRMSR 0x1B={value:x} from {before:x}: expected {(accepted ? "ok" : "#GP")}, got {t.Observation}");
            s = t.State;
            var cpuid = Cpuid(Lazy, ref s, 1);
            Assert.True(apic == Bit(cpuid.Edx, 9), $"step {step}: CPUID.1:EDX.APIC after {value:x}");
        }
    }

    [Fact]
    public void Host_initiated_APIC_base_may_go_x2APIC_to_xAPIC_but_not_to_the_invalid_mode()
    {
        var s = Running(Lazy);
        s = Kvm.Step(Lazy, s, new VcpuEvent.SetSregs(Cr4.OsXsave, 0xFEE0_0D00)).State;
        Assert.Equal(new Observation.IoctlDone(0), Kvm.Step(Lazy, s, new VcpuEvent.SetSregs(Cr4.OsXsave, 0xFEE0_0900)).Observation);
        var invalid = Kvm.Step(Lazy, s, new VcpuEvent.SetSregs(Cr4.OsXsave, 0xFEE0_0500));
        Assert.Equal(new Observation.IoctlError(Errno.EINVAL), invalid.Observation);
        Assert.Same(s.Vcpu, invalid.State.Vcpu);
    }

    [Theory]
    [InlineData(Cr4.OsXsave, true)]
    [InlineData(Cr4.Pke, true)]
    [InlineData(Cr4.Vmxe, true)]
    [InlineData(1ul << 15, false)]
    [InlineData(1ul << 19, false)]
    [InlineData(1ul << 32, false)]
    public void MOV_CR4_with_an_unknown_bit_is_GP_and_KVM_SET_SREGS_is_EINVAL(ulong bit, bool valid)
    {
        var s = Running(Lazy);
        var guest = Kvm.Step(Lazy, s, new VcpuEvent.MovToCr4(bit));
        var host = Kvm.Step(Lazy, s, new VcpuEvent.SetSregs(bit, s.Vcpu.ApicBase));
        Assert.Equal(valid ? null : new Observation.Fault(X86Exception.GP), guest.Observation);
        Assert.Equal(valid ? new Observation.IoctlDone(0) : new Observation.IoctlError(Errno.EINVAL), host.Observation);
    }

    [Fact]
    public void MOV_CR4_OSXSAVE_without_guest_XSAVE_is_GP()
    {
        var noXsave = CpuidFunctional.Core.Cpuid.CpuidTable.Of(
            SkylakeGuest.Entries.Select(e => e.Function == 1 ? e.WithBit(CpuidFunctional.Core.Cpuid.CpuidRegister.Ecx, 26, false) : e)
        );
        var s = KvmState.WithCpuid(Vm(), Lazy, noXsave);
        Assert.Equal(new Observation.Fault(X86Exception.GP), Kvm.Step(Lazy, s, new VcpuEvent.MovToCr4(Cr4.OsXsave)).Observation);
    }

    [Fact]
    public void Privileged_instructions_at_CPL3_raise_GP_without_touching_state()
    {
        var s = Kvm.Step(Lazy, Running(Lazy), new VcpuEvent.SetCpl(3)).State;
        VcpuEvent[] privileged = [new VcpuEvent.MovToCr4(0), new VcpuEvent.Wrmsr(Msr.ApicBase, 0xFEE0_0100), new VcpuEvent.Rdmsr(Msr.ApicBase), new VcpuEvent.Xsetbv(0, 0x3)];
        foreach (var e in privileged)
        {
            var t = Kvm.Step(Lazy, s, e);
            Assert.Equal(new Observation.Fault(X86Exception.GP), t.Observation);
            Assert.Same(s.Vcpu, t.State.Vcpu);
        }
    }
}
