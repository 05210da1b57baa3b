using CpuidFunctional.Core.Model;
using CpuidFunctional.Oracle.Native;

namespace CpuidFunctional.Oracle;

/// <summary>A KVM VM with one slot of anonymous guest memory at GPA 0. Owns its fd and mapping.</summary>
public sealed unsafe class LiveVm : IDisposable
{
    /// <summary>1 MiB: real mode's whole address space, enough for the guest programs.</summary>
    public const int DefaultMemorySize = 0x10_0000;

    private readonly int fd; // closed once, by Dispose
    private readonly nint memory; // guest memory, unmapped once, by Dispose
    private readonly int vcpuMmapSize;

    private LiveVm(int fd, nint memory, int memorySize, int vcpuMmapSize)
    {
        this.fd = fd;
        this.memory = memory;
        MemorySize = memorySize;
        this.vcpuMmapSize = vcpuMmapSize;
    }

    /// <summary>Bytes of guest memory.</summary>
    public int MemorySize { get; }

    /// <summary>Guest physical memory, writable by the host.</summary>
    public Span<byte> Memory => new((void*)memory, MemorySize);

    internal static IoctlResult<LiveVm> Create(KvmSystem kvm, int kvmFd, int memorySize)
    {
        var fd = Libc.Ioctl(kvmFd, KvmIoctl.CreateVm, 0);
        if (fd < 0)
        {
            return new IoctlResult<LiveVm>.Failed("KVM_CREATE_VM", Libc.Errno);
        }
        var mem = Libc.Mmap(0, (nuint)memorySize, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_SHARED | Libc.MAP_ANONYMOUS, -1, 0);
        if (mem == Libc.MapFailed)
        {
            var errno = Libc.Errno;
            Libc.Close(fd);
            return new IoctlResult<LiveVm>.Failed("mmap(guest memory)", errno);
        }
        if (SetSlot(fd, addressSpace: 0, mem, memorySize) < 0)
        {
            var errno = Libc.Errno;
            Libc.Munmap(mem, (nuint)memorySize);
            Libc.Close(fd);
            return new IoctlResult<LiveVm>.Failed("KVM_SET_USER_MEMORY_REGION", errno);
        }
        return new IoctlResult<LiveVm>.Ok(new LiveVm(fd, mem, memorySize, kvm.VcpuMmapSize));
    }

    /// <summary>
    /// Maps the same guest memory as slot 0 of address space 1. A vCPU in SMM sees only that address space's slots
    /// (<c>kvm_arch_vcpu_memslots_id</c>) and a VM starts with none, so without this <c>enter_smm</c> cannot write
    /// the state-save area and the SMM entry code is MMIO. SMRAM is then ordinary memory, the same in and out of SMM
    /// (a machine whose SMRAM is open). Only for kernels with KVM_CAP_X86_SMM.
    /// </summary>
    public IoctlResult<int> MapMemoryInSmmAddressSpace() =>
        IoctlResult.Of("KVM_SET_USER_MEMORY_REGION(SMM address space)", SetSlot(fd, KvmIoctl.SmmAddressSpace, memory, MemorySize));

    /// <summary>
    /// Maps the page at <see cref="GuestLayout.ResetVectorPage"/> (below 4 GiB, where a vCPU starts after INIT) as
    /// slot 1 onto the last page of guest memory, <see cref="GuestLayout.ResetVectorAlias"/>.
    /// </summary>
    public IoctlResult<int> MapResetVectorPage() =>
        IoctlResult.Of("KVM_SET_USER_MEMORY_REGION(reset vector)", SetSlot(fd, addressSpace: 0, memory + GuestLayout.ResetVectorAlias, 0x1000, slot: 1, GuestLayout.ResetVectorPage));

    /// <summary>KVM_SET_USER_MEMORY_REGION: a slot of <paramref name="addressSpace"/> (by default slot 0 at GPA 0); the ioctl's return code.</summary>
    private static int SetSlot(int vmFd, uint addressSpace, nint userspace, int size, uint slot = 0, ulong guestPhysical = 0)
    {
        // struct kvm_userspace_memory_region: slot (address space in bits 16-31), flags, guest_phys_addr,
        // memory_size, userspace_addr.
        var region = stackalloc ulong[4];
        region[0] = ((ulong)addressSpace << KvmIoctl.SlotAddressSpaceShift) | slot; // flags 0
        region[1] = guestPhysical;
        region[2] = (ulong)size;
        region[3] = (ulong)userspace;
        return Libc.Ioctl(vmFd, KvmIoctl.SetUserMemoryRegion, region);
    }

    /// <summary>KVM_CREATE_IRQCHIP: the in-kernel PIC, IOAPIC and local APICs (before the first vCPU).</summary>
    public IoctlResult<int> CreateIrqchip()
    {
        return IoctlResult.Of("KVM_CREATE_IRQCHIP", Libc.Ioctl(fd, KvmIoctl.CreateIrqchip, 0));
    }

    /// <summary>KVM_CHECK_EXTENSION on the VM (the capabilities a VM may answer for itself).</summary>
    public IoctlResult<int> CheckExtension(KvmCapability capability)
    {
        return IoctlResult.Of("KVM_CHECK_EXTENSION(vm)", Libc.Ioctl(fd, KvmIoctl.CheckExtension, (nuint)capability));
    }

    /// <summary>KVM_ENABLE_CAP(KVM_CAP_DISABLE_QUIRKS2, mask) on the VM.</summary>
    public IoctlResult<int> DisableQuirks2(ulong mask) => EnableCap(KvmCapability.DisableQuirks2, mask, "KVM_ENABLE_CAP(DISABLE_QUIRKS2)");

    /// <summary>KVM_ENABLE_CAP(KVM_CAP_X86_DISABLE_EXITS, mask) on the VM.</summary>
    public IoctlResult<int> DisableExits(ulong mask) => EnableCap(KvmCapability.X86DisableExits, mask, "KVM_ENABLE_CAP(X86_DISABLE_EXITS)");

    private IoctlResult<int> EnableCap(KvmCapability capability, ulong arg0, string call)
    {
        // struct kvm_enable_cap: cap, flags, args[4], pad[64].
        var cap = stackalloc byte[KvmIoctl.EnableCapSize];
        new Span<byte>(cap, KvmIoctl.EnableCapSize).Clear();
        *(uint*)cap = (uint)capability;
        *(ulong*)(cap + 8) = arg0;
        return IoctlResult.Of(call, Libc.Ioctl(fd, KvmIoctl.EnableCap, cap));
    }

    /// <summary>KVM_CREATE_VCPU with id 0, and its <c>kvm_run</c> mapping.</summary>
    public IoctlResult<LiveVcpu> CreateVcpu()
    {
        var vcpu = Libc.Ioctl(fd, KvmIoctl.CreateVcpu, 0);
        if (vcpu < 0)
        {
            return new IoctlResult<LiveVcpu>.Failed("KVM_CREATE_VCPU", Libc.Errno);
        }
        var run = Libc.Mmap(0, (nuint)vcpuMmapSize, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_SHARED, vcpu, 0);
        if (run == Libc.MapFailed)
        {
            var errno = Libc.Errno;
            Libc.Close(vcpu);
            return new IoctlResult<LiveVcpu>.Failed("mmap(kvm_run)", errno);
        }
        return new IoctlResult<LiveVcpu>.Ok(new LiveVcpu(vcpu, run, vcpuMmapSize));
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        Libc.Munmap(memory, (nuint)MemorySize);
        Libc.Close(fd);
    }
}
