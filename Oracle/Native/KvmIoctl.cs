namespace CpuidFunctional.Oracle.Native;

/// <summary>
/// ioctl request numbers and constants of <c>linux/kvm.h</c> for x86-64 (the _IO/_IOR/_IOW encodings with the
/// struct sizes of that header: kvm_regs 144, kvm_sregs 312, kvm_xcrs 392, kvm_enable_cap 104, the memory region 32,
/// kvm_vcpu_events 64).
/// </summary>
internal static class KvmIoctl
{
    // /dev/kvm
    public const nuint GetApiVersion = 0xAE00;
    public const nuint CreateVm = 0xAE01;
    public const nuint CheckExtension = 0xAE03;
    public const nuint GetVcpuMmapSize = 0xAE04;
    public const nuint GetSupportedCpuid = 0xC008_AE05;
    public const nuint GetMsrIndexList = 0xC004_AE02;

    // VM fd
    public const nuint SetUserMemoryRegion = 0x4020_AE46;
    public const nuint CreateVcpu = 0xAE41;
    public const nuint EnableCap = 0x4068_AEA3;
    public const nuint CreateIrqchip = 0xAE60; // _IO(KVMIO, 0x60): PIC, IOAPIC and an in-kernel local APIC per vCPU

    // vCPU fd
    public const nuint Run = 0xAE80;
    public const nuint GetRegs = 0x8090_AE81;
    public const nuint SetRegs = 0x4090_AE82;
    public const nuint GetSregs = 0x8138_AE83;
    public const nuint SetSregs = 0x4138_AE84;
    public const nuint GetMsrs = 0xC008_AE88;
    public const nuint SetMsrs = 0x4008_AE89;
    public const nuint SetCpuid2 = 0x4008_AE90;
    public const nuint GetCpuid2 = 0xC008_AE91;
    public const nuint GetXcrs = 0x8188_AEA6;
    public const nuint SetXcrs = 0x4188_AEA7;
    public const nuint GetVcpuEvents = 0x8040_AE9F; // _IOR(KVMIO, 0x9f, struct kvm_vcpu_events)
    public const nuint SetVcpuEvents = 0x4040_AEA0; // _IOW(KVMIO, 0xa0, struct kvm_vcpu_events)
    public const nuint Smi = 0xAEB7; // _IO(KVMIO, 0xb7)
    public const nuint GetMpState = 0x8004_AE98; // _IOR(KVMIO, 0x98, struct kvm_mp_state)

    /// <summary>KVM_MP_STATE_RUNNABLE: <c>struct kvm_mp_state</c>'s value for a vCPU that runs.</summary>
    public const uint MpStateRunnable = 0;

    // kvm_userspace_memory_region.slot: bits 16-31 are the address space (KVM_CAP_MULTI_ADDRESS_SPACE). On x86 a vCPU
    // in SMM sees address space 1 (kvm_arch_vcpu_memslots_id), so SMM needs its own slots there.
    public const int SlotAddressSpaceShift = 16;
    public const uint SmmAddressSpace = 1;

    // kvm_vcpu_events: exception (8), interrupt (4), nmi (4), sipi_vector, flags, smi {smm, pending, smm_inside_nmi,
    // latched_init}, reserved[27], exception_has_payload, exception_payload (u64).
    public const int VcpuEventsSize = 64;
    public const int VcpuEventsFlagsOffset = 20;
    public const int VcpuEventsSmiOffset = 24;
    public const int VcpuEventsLatchedInitOffset = 27; // smi.latched_init
    public const uint VcpuEventValidSmm = 0x8;

    // kvm_run
    public const int RunExitReasonOffset = 8;
    public const int RunExitInfoOffset = 32; // the union: io {direction, size, port, count, data_offset}, internal {suberror, ...}
    public const uint ExitIo = 2;
    public const byte ExitIoOut = 1; // kvm_run.io.direction
    public const uint ExitHlt = 5;
    public const uint ExitShutdown = 8;
    public const uint ExitFailEntry = 9;
    public const uint ExitInternalError = 17;

    // struct sizes (checked against linux/kvm.h by the tests)
    public const int CpuidEntry2Size = 40;
    public const int MsrEntrySize = 16;
    public const int Cpuid2HeaderSize = 8;
    public const int MsrsHeaderSize = 8;
    public const int EnableCapSize = 104;
    public const int UserspaceMemoryRegionSize = 32;
}
