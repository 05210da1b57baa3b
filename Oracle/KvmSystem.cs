using System.Collections.Immutable;
using System.Runtime.InteropServices;
using CpuidFunctional.Core.Cpuid;
using CpuidFunctional.Core.Model;
using CpuidFunctional.Oracle.Native;

namespace CpuidFunctional.Oracle;

/// <summary>
/// An open <c>/dev/kvm</c>: system ioctls (API version, KVM_CHECK_EXTENSION, KVM_GET_SUPPORTED_CPUID) and VM
/// creation. Failures are values; only "cannot open /dev/kvm" is reported, as <see cref="KvmAvailability.Unavailable"/>.
/// </summary>
public sealed unsafe class KvmSystem : IDisposable
{
    /// <summary>The KVM API version every kernel since 2.6.22 reports.</summary>
    public const int StableApiVersion = 12;

    private readonly int fd; // closed once, by Dispose

    private KvmSystem(int fd, int vcpuMmapSize)
    {
        this.fd = fd;
        VcpuMmapSize = vcpuMmapSize;
    }

    /// <summary>Size of the <c>kvm_run</c> mapping of a vCPU (KVM_GET_VCPU_MMAP_SIZE).</summary>
    public int VcpuMmapSize { get; }

    /// <summary>Opens the device and checks the API version.</summary>
    /// <param name="path">The device node, normally <c>/dev/kvm</c>.</param>
    public static KvmAvailability Open(string path = "/dev/kvm")
    {
        var fd = Libc.Open(path, Libc.O_RDWR | Libc.O_CLOEXEC);
        if (fd < 0)
        {
            var errno = Libc.Errno;
            return new KvmAvailability.Unavailable($"{path}: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})");
        }
        var version = Libc.Ioctl(fd, KvmIoctl.GetApiVersion, 0);
        if (version != StableApiVersion)
        {
            Libc.Close(fd);
            return new KvmAvailability.Unavailable($"{path}: KVM_GET_API_VERSION returned {version}, expected {StableApiVersion}");
        }
        var mmapSize = Libc.Ioctl(fd, KvmIoctl.GetVcpuMmapSize, 0);
        if (mmapSize <= 0)
        {
            Libc.Close(fd);
            return new KvmAvailability.Unavailable($"{path}: KVM_GET_VCPU_MMAP_SIZE returned {mmapSize}");
        }
        return new KvmAvailability.Available(new KvmSystem(fd, mmapSize));
    }

    /// <summary>The running kernel's release (<c>uname -r</c>), read from procfs; empty if unreadable.</summary>
    public static string KernelRelease
    {
        get
        {
            try
            {
                return File.ReadAllText("/proc/sys/kernel/osrelease").Trim();
            }
            catch (IOException)
            {
                return "";
            }
            catch (UnauthorizedAccessException)
            {
                return "";
            }
        }
    }

    /// <summary>KVM_CHECK_EXTENSION: 0 if absent, otherwise a capability-specific positive value.</summary>
    /// <param name="capability">A <see cref="KvmCapability"/> number.</param>
    public IoctlResult<int> CheckExtension(KvmCapability capability) =>
        IoctlResult.Of("KVM_CHECK_EXTENSION", Libc.Ioctl(fd, KvmIoctl.CheckExtension, (nuint)capability));

    /// <summary>KVM_GET_SUPPORTED_CPUID with a buffer of <paramref name="nent"/> entries (E2BIG if too small).</summary>
    public IoctlResult<CpuidTable> GetSupportedCpuid(int nent = CpuidTable.MaxEntries) =>
        CpuidIoctl(fd, KvmIoctl.GetSupportedCpuid, "KVM_GET_SUPPORTED_CPUID", nent);

    /// <summary>KVM_GET_MSR_INDEX_LIST: the MSRs KVM saves and restores for userspace.</summary>
    public IoctlResult<ImmutableArray<uint>> GetMsrIndexList()
    {
        const int capacity = 4096;
        var buffer = new uint[capacity + 1];
        buffer[0] = capacity;
        fixed (uint* p = buffer)
        {
            if (Libc.Ioctl(fd, KvmIoctl.GetMsrIndexList, p) < 0)
            {
                return new IoctlResult<ImmutableArray<uint>>.Failed("KVM_GET_MSR_INDEX_LIST", Libc.Errno);
            }
        }
        return new IoctlResult<ImmutableArray<uint>>.Ok([.. buffer.AsSpan(1, (int)Math.Min(buffer[0], capacity))]);
    }

    /// <summary>Probes what the oracle may generate on this kernel.</summary>
    public LiveCapabilities Probe()
    {
        int Cap(KvmCapability c) => CheckExtension(c) is IoctlResult<int>.Ok(var v) ? v : 0;
        var msrs = GetMsrIndexList() is IoctlResult<ImmutableArray<uint>>.Ok(var list) ? list : [];
        var supported = GetSupportedCpuid() is IoctlResult<CpuidTable>.Ok(var t) ? t : CpuidTable.Empty;
        var pku = supported.Find(7, 0) is { } leaf7 && leaf7.Has(CpuidRegister.Ecx, 3);
        return new LiveCapabilities(
            KernelRelease,
            Xcrs: Cap(KvmCapability.Xcrs) != 0,
            Smm: Cap(KvmCapability.X86Smm) != 0,
            NestedState: Cap(KvmCapability.NestedState) != 0,
            DisableQuirks2Mask: (ulong)Cap(KvmCapability.DisableQuirks2),
            XssSaved: msrs.Contains(0xDA0u),
            Pku: pku,
            DisableExitsMask: (ulong)Cap(KvmCapability.X86DisableExits),
            Irqchip: Cap(KvmCapability.Irqchip) != 0 && CanCreateIrqchip()
        );
    }

    /// <summary>
    /// Whether a VM here accepts KVM_CREATE_IRQCHIP (KVM_CAP_IRQCHIP is 1 on every x86 kernel, but the ioctl may still
    /// be refused, e.g. for VM types with protected EOI); asked on a scratch VM.
    /// </summary>
    private bool CanCreateIrqchip()
    {
        if (CreateVm() is not IoctlResult<LiveVm>.Ok(var vm))
        {
            return false;
        }
        using (vm)
        {
            return vm.CreateIrqchip() is IoctlResult<int>.Ok;
        }
    }

    /// <summary>KVM_CREATE_VM with <paramref name="memorySize"/> bytes of guest memory at GPA 0.</summary>
    public IoctlResult<LiveVm> CreateVm(int memorySize = LiveVm.DefaultMemorySize) => LiveVm.Create(this, fd, memorySize);

    /// <inheritdoc/>
    public void Dispose() => Libc.Close(fd);

    /// <summary>
    /// The two CPUID ioctls that fill a caller-sized <c>kvm_cpuid2</c> buffer. The entries start as a sentinel (all
    /// bits set: no real entry has flags above bit 2) because 6.1's <c>kvm_vcpu_ioctl_get_cpuid2</c> leaves the
    /// header's nent as the caller wrote it on success; the entries KVM wrote are then the ones before the first
    /// sentinel. Later kernels write nent back, and then it is used.
    /// </summary>
    internal static IoctlResult<CpuidTable> CpuidIoctl(int fd, nuint request, string name, int nent)
    {
        var buffer = new byte[KvmIoctl.Cpuid2HeaderSize + (Math.Max(nent, 0) * KvmIoctl.CpuidEntry2Size)];
        buffer.AsSpan(KvmIoctl.Cpuid2HeaderSize).Fill(0xFF);
        BitConverter.TryWriteBytes(buffer.AsSpan(0, 4), (uint)nent);
        fixed (byte* p = buffer)
        {
            if (Libc.Ioctl(fd, request, p) < 0)
            {
                return new IoctlResult<CpuidTable>.Failed(name, Libc.Errno);
            }
        }
        var count = Math.Min(BitConverter.ToUInt32(buffer, 0), (uint)Math.Max(nent, 0));
        for (var i = 0; i < count; i++)
        {
            if (Read(buffer.AsSpan(KvmIoctl.Cpuid2HeaderSize + (i * KvmIoctl.CpuidEntry2Size)), 8) == uint.MaxValue)
            {
                count = (uint)i; // the first entry KVM did not write
                break;
            }
        }
        var entries = ImmutableArray.CreateBuilder<CpuidEntry>((int)count);
        for (var i = 0; i < count; i++)
        {
            var e = buffer.AsSpan(KvmIoctl.Cpuid2HeaderSize + (i * KvmIoctl.CpuidEntry2Size), KvmIoctl.CpuidEntry2Size);
            entries.Add(
                new CpuidEntry(
                    Function: Read(e, 0),
                    Index: Read(e, 4),
                    Flags: (CpuidFlags)Read(e, 8),
                    Eax: Read(e, 12),
                    Ebx: Read(e, 16),
                    Ecx: Read(e, 20),
                    Edx: Read(e, 24)
                )
            );
        }
        return new IoctlResult<CpuidTable>.Ok(CpuidTable.Of(entries.MoveToImmutable()));
    }

    /// <summary>A <c>kvm_cpuid2</c> buffer holding a table, for KVM_SET_CPUID2.</summary>
    internal static byte[] CpuidBuffer(CpuidTable table)
    {
        var buffer = new byte[KvmIoctl.Cpuid2HeaderSize + (table.Count * KvmIoctl.CpuidEntry2Size)];
        BitConverter.TryWriteBytes(buffer.AsSpan(0, 4), (uint)table.Count);
        for (var i = 0; i < table.Count; i++)
        {
            var e = table[i];
            var span = buffer.AsSpan(KvmIoctl.Cpuid2HeaderSize + (i * KvmIoctl.CpuidEntry2Size), KvmIoctl.CpuidEntry2Size);
            Write(span, 0, e.Function);
            Write(span, 4, e.Index);
            Write(span, 8, (uint)e.Flags);
            Write(span, 12, e.Eax);
            Write(span, 16, e.Ebx);
            Write(span, 20, e.Ecx);
            Write(span, 24, e.Edx);
        }
        return buffer;
    }

    private static uint Read(ReadOnlySpan<byte> span, int offset) => BitConverter.ToUInt32(span[offset..]);

    private static void Write(Span<byte> span, int offset, uint value) => BitConverter.TryWriteBytes(span[offset..], value);
}
