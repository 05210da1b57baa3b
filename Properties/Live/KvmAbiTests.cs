using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using CpuidFunctional.Oracle.Native;

namespace CpuidFunctional.Properties.Live;

/// <summary>
/// The driver's struct layouts against x86-64 <c>linux/kvm.h</c> (sizes and offsets as gcc reports them for that
/// header); the ioctl numbers encode these sizes, so a wrong layout would corrupt the ioctl or its argument.
/// Runs everywhere, KVM or not.
/// </summary>
public class KvmAbiTests
{
    [Fact]
    public void Struct_sizes_match_linux_kvm_h()
    {
        Assert.Equal(24, Unsafe.SizeOf<KvmSegment>());
        Assert.Equal(16, Unsafe.SizeOf<KvmDtable>());
        Assert.Equal(312, Unsafe.SizeOf<KvmSregs>());
        Assert.Equal(144, Unsafe.SizeOf<KvmRegs>());
        Assert.Equal(392, Unsafe.SizeOf<KvmXcrs>());
    }

    [Fact]
    public void Sregs_fields_sit_at_the_kernel_offsets()
    {
        Assert.Equal(144, (int)Marshal.OffsetOf<KvmSregs>(nameof(KvmSregs.Tr)));
        Assert.Equal(192, (int)Marshal.OffsetOf<KvmSregs>(nameof(KvmSregs.Gdt)));
        Assert.Equal(224, (int)Marshal.OffsetOf<KvmSregs>(nameof(KvmSregs.Cr0)));
        Assert.Equal(248, (int)Marshal.OffsetOf<KvmSregs>(nameof(KvmSregs.Cr4)));
        Assert.Equal(272, (int)Marshal.OffsetOf<KvmSregs>(nameof(KvmSregs.ApicBase)));
        Assert.Equal(12, (int)Marshal.OffsetOf<KvmSegment>(nameof(KvmSegment.Selector)));
        Assert.Equal(22, (int)Marshal.OffsetOf<KvmSegment>(nameof(KvmSegment.Unusable)));
        Assert.Equal(128, (int)Marshal.OffsetOf<KvmRegs>(nameof(KvmRegs.Rip)));
    }

    [Theory]
    [InlineData(0x8138_AE83ul, 'r', 312)] // KVM_GET_SREGS = _IOR(KVMIO, 0x83, struct kvm_sregs)
    [InlineData(0x4138_AE84ul, 'w', 312)] // KVM_SET_SREGS
    [InlineData(0x8090_AE81ul, 'r', 144)] // KVM_GET_REGS
    [InlineData(0x4090_AE82ul, 'w', 144)] // KVM_SET_REGS
    [InlineData(0x8188_AEA6ul, 'r', 392)] // KVM_GET_XCRS
    [InlineData(0x4188_AEA7ul, 'w', 392)] // KVM_SET_XCRS
    [InlineData(0x4068_AEA3ul, 'w', 104)] // KVM_ENABLE_CAP
    [InlineData(0x4020_AE46ul, 'w', 32)] // KVM_SET_USER_MEMORY_REGION
    [InlineData(0x8040_AE9Ful, 'r', 64)] // KVM_GET_VCPU_EVENTS = _IOR(KVMIO, 0x9f, struct kvm_vcpu_events)
    [InlineData(0x4040_AEA0ul, 'w', 64)] // KVM_SET_VCPU_EVENTS = _IOW(KVMIO, 0xa0, struct kvm_vcpu_events)
    [InlineData(0x8004_AE98ul, 'r', 4)] // KVM_GET_MP_STATE = _IOR(KVMIO, 0x98, struct kvm_mp_state)
    public void Ioctl_numbers_encode_the_struct_sizes(ulong request, char direction, int size)
    {
        Assert.Equal((ulong)size, (request >> 16) & 0x3FFF);
        Assert.Equal(direction == 'r' ? 2ul : 1ul, request >> 30);
        Assert.Equal(0xAEul, (request >> 8) & 0xFF);
        ulong[] used =
        [
            KvmIoctl.GetSregs, KvmIoctl.SetSregs, KvmIoctl.GetRegs, KvmIoctl.SetRegs, KvmIoctl.GetXcrs, KvmIoctl.SetXcrs,
            KvmIoctl.EnableCap, KvmIoctl.SetUserMemoryRegion, KvmIoctl.GetVcpuEvents, KvmIoctl.SetVcpuEvents, KvmIoctl.GetMpState,
        ];
        Assert.Contains(request, used);
    }

    [Fact]
    public void KVM_SMI_carries_no_argument_and_the_vcpu_events_smm_byte_sits_at_its_kernel_offset()
    {
        Assert.Equal((nuint)0xAEB7, KvmIoctl.Smi); // _IO(KVMIO, 0xb7): no direction, no size
        Assert.Equal(24, KvmIoctl.VcpuEventsSmiOffset); // struct kvm_vcpu_events.smi.smm
    }
}
