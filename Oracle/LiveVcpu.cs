using System.Buffers.Binary;
using System.Collections.Immutable;
using System.Runtime.CompilerServices;
using CpuidFunctional.Core;
using CpuidFunctional.Core.Cpuid;
using CpuidFunctional.Core.Model;
using CpuidFunctional.Core.State;
using CpuidFunctional.Oracle.Native;

namespace CpuidFunctional.Oracle;

/// <summary>One vCPU of a <see cref="LiveVm"/>: the vCPU ioctls the oracle uses, each returning a value or errno.</summary>
public sealed unsafe class LiveVcpu : IDisposable
{
    private readonly int fd; // closed once, by Dispose
    private readonly nint run; // the kvm_run page, unmapped once, by Dispose
    private readonly int runSize;

    internal LiveVcpu(int fd, nint run, int runSize)
    {
        this.fd = fd;
        this.run = run;
        this.runSize = runSize;
    }

    /// <summary>KVM_SET_CPUID2.</summary>
    public IoctlResult<int> SetCpuid2(CpuidTable table)
    {
        var buffer = KvmSystem.CpuidBuffer(table);
        fixed (byte* p = buffer)
        {
            return IoctlResult.Of("KVM_SET_CPUID2", Libc.Ioctl(fd, KvmIoctl.SetCpuid2, p));
        }
    }

    /// <summary>KVM_GET_CPUID2 with a buffer of <paramref name="nent"/> entries (E2BIG if too small).</summary>
    public IoctlResult<CpuidTable> GetCpuid2(int nent = CpuidTable.MaxEntries) =>
        KvmSystem.CpuidIoctl(fd, KvmIoctl.GetCpuid2, "KVM_GET_CPUID2", nent);

    internal IoctlResult<KvmSregs> GetSregs()
    {
        KvmSregs s;
        return Libc.Ioctl(fd, KvmIoctl.GetSregs, &s) < 0
            ? new IoctlResult<KvmSregs>.Failed("KVM_GET_SREGS", Libc.Errno)
            : new IoctlResult<KvmSregs>.Ok(s);
    }

    internal IoctlResult<int> SetSregs(in KvmSregs sregs)
    {
        var copy = sregs;
        return IoctlResult.Of("KVM_SET_SREGS", Libc.Ioctl(fd, KvmIoctl.SetSregs, &copy));
    }

    internal IoctlResult<int> SetRegs(in KvmRegs regs)
    {
        var copy = regs;
        return IoctlResult.Of("KVM_SET_REGS", Libc.Ioctl(fd, KvmIoctl.SetRegs, &copy));
    }

    /// <summary>KVM_GET_XCRS: how many registers the kernel returned (<c>nr_xcrs</c>) and XCR0 (0 if it returned no XCR0 entry).</summary>
    public IoctlResult<Observation.Xcrs> GetXcrs()
    {
        KvmXcrs x = default;
        if (Libc.Ioctl(fd, KvmIoctl.GetXcrs, &x) < 0)
        {
            return new IoctlResult<Observation.Xcrs>.Failed("KVM_GET_XCRS", Libc.Errno);
        }
        var xcr0 = 0ul;
        for (var i = 0; i < Math.Min((int)x.NrXcrs, KvmXcrs.MaxXcrs); i++)
        {
            if (x.XcrIndex(i) == 0)
            {
                xcr0 = x.XcrValue(i);
                break;
            }
        }
        return new IoctlResult<Observation.Xcrs>.Ok(new Observation.Xcrs((int)x.NrXcrs, xcr0));
    }

    /// <summary>
    /// KVM_SET_XCRS with <c>nr_xcrs</c> = the entries' count and <paramref name="flags"/>. A <c>struct kvm_xcrs</c>
    /// holds <see cref="KvmXcrs.MaxXcrs"/> entries; for a longer list only those are passed, as the kernel refuses
    /// such an <c>nr_xcrs</c> before it reads any entry.
    /// </summary>
    public IoctlResult<int> SetXcrs(ValueArray<XcrEntry> xcrs, uint flags)
    {
        KvmXcrs x = default;
        x.NrXcrs = (uint)xcrs.Count;
        x.Flags = flags;
        for (var i = 0; i < Math.Min(xcrs.Count, KvmXcrs.MaxXcrs); i++)
        {
            x.SetXcr(i, xcrs[i].Xcr, xcrs[i].Value);
        }
        return IoctlResult.Of("KVM_SET_XCRS", Libc.Ioctl(fd, KvmIoctl.SetXcrs, &x));
    }

    /// <summary>KVM_GET_MSRS of one MSR: its value, or a failure if the kernel read none.</summary>
    public IoctlResult<ulong> GetMsr(uint index)
    {
        var buffer = stackalloc byte[KvmIoctl.MsrsHeaderSize + KvmIoctl.MsrEntrySize];
        new Span<byte>(buffer, KvmIoctl.MsrsHeaderSize + KvmIoctl.MsrEntrySize).Clear();
        *(uint*)buffer = 1;
        *(uint*)(buffer + KvmIoctl.MsrsHeaderSize) = index;
        var rc = Libc.Ioctl(fd, KvmIoctl.GetMsrs, buffer);
        if (rc < 0)
        {
            return new IoctlResult<ulong>.Failed("KVM_GET_MSRS", Libc.Errno);
        }
        // KVM_GET_MSRS returns how many MSRs it read; 0 means this one was refused (no errno).
        return rc == 1
            ? new IoctlResult<ulong>.Ok(*(ulong*)(buffer + KvmIoctl.MsrsHeaderSize + 8))
            : new IoctlResult<ulong>.Failed($"KVM_GET_MSRS(0x{index:x}) read {rc} MSRs", 0);
    }

    /// <summary>KVM_GET_MSRS: the entries the kernel read, in order (it stops at the first refusal).</summary>
    public IoctlResult<ImmutableArray<MsrEntry>> GetMsrs(IReadOnlyList<uint> indices)
    {
        var buffer = new byte[KvmIoctl.MsrsHeaderSize + (indices.Count * KvmIoctl.MsrEntrySize)];
        fixed (byte* p = buffer)
        {
            *(uint*)p = (uint)indices.Count;
            for (var i = 0; i < indices.Count; i++)
            {
                *(uint*)(p + KvmIoctl.MsrsHeaderSize + (i * KvmIoctl.MsrEntrySize)) = indices[i];
            }
            var rc = Libc.Ioctl(fd, KvmIoctl.GetMsrs, p);
            if (rc < 0)
            {
                return new IoctlResult<ImmutableArray<MsrEntry>>.Failed("KVM_GET_MSRS", Libc.Errno);
            }
            var read = ImmutableArray.CreateBuilder<MsrEntry>(rc);
            for (var i = 0; i < rc; i++)
            {
                read.Add(new MsrEntry(indices[i], *(ulong*)(p + KvmIoctl.MsrsHeaderSize + (i * KvmIoctl.MsrEntrySize) + 8)));
            }
            return new IoctlResult<ImmutableArray<MsrEntry>>.Ok(read.MoveToImmutable());
        }
    }

    /// <summary>KVM_SET_MSRS: the number of MSRs the kernel set (it stops at the first refusal).</summary>
    public IoctlResult<int> SetMsrs(IReadOnlyList<MsrEntry> entries)
    {
        var size = KvmIoctl.MsrsHeaderSize + (entries.Count * KvmIoctl.MsrEntrySize);
        var buffer = new byte[size];
        fixed (byte* p = buffer)
        {
            *(uint*)p = (uint)entries.Count;
            for (var i = 0; i < entries.Count; i++)
            {
                var e = p + KvmIoctl.MsrsHeaderSize + (i * KvmIoctl.MsrEntrySize);
                *(uint*)e = entries[i].Index;
                *(ulong*)(e + 8) = entries[i].Value;
            }
            return IoctlResult.Of("KVM_SET_MSRS", Libc.Ioctl(fd, KvmIoctl.SetMsrs, p));
        }
    }

    /// <summary>
    /// KVM_SMI: makes an SMI pending (KVM_REQ_SMI). The next KVM_RUN delivers it (<c>process_smi</c>, then
    /// <c>inject_pending_event</c> → <c>enter_smm</c>) unless the vCPU is already in SMM, where it stays latched until RSM.
    /// </summary>
    public IoctlResult<int> Smi() => IoctlResult.Of("KVM_SMI", Libc.Ioctl(fd, KvmIoctl.Smi, 0));

    /// <summary>
    /// Latches an INIT, as the in-kernel APIC does when one arrives (KVM_SET_VCPU_EVENTS with KVM_VCPUEVENT_VALID_SMM and
    /// <c>smi.latched_init</c>, the events read back otherwise unchanged): the next KVM_RUN takes it
    /// (<c>kvm_apic_accept_events</c> → <c>kvm_vcpu_reset(vcpu, true)</c>) unless the vCPU is in SMM. Needs the
    /// in-kernel APIC (KVM_CREATE_IRQCHIP); without it KVM ignores the bit.
    /// </summary>
    public IoctlResult<int> LatchInit()
    {
        var read = GetVcpuEvents();
        if (read is not IoctlResult<byte[]>.Ok(var events))
        {
            return read.Select(_ => 0);
        }
        BinaryPrimitives.WriteUInt32LittleEndian(
            events.AsSpan(KvmIoctl.VcpuEventsFlagsOffset),
            BinaryPrimitives.ReadUInt32LittleEndian(events.AsSpan(KvmIoctl.VcpuEventsFlagsOffset)) | KvmIoctl.VcpuEventValidSmm);
        events[KvmIoctl.VcpuEventsLatchedInitOffset] = 1;
        fixed (byte* p = events)
        {
            return IoctlResult.Of("KVM_SET_VCPU_EVENTS(latched_init)", Libc.Ioctl(fd, KvmIoctl.SetVcpuEvents, p));
        }
    }

    /// <summary>
    /// KVM_GET_MP_STATE. It first runs <c>kvm_apic_accept_events</c>, so a latched INIT is taken here, without the
    /// guest running (and it stays latched where INIT is blocked: SMM, VMX root operation).
    /// </summary>
    public IoctlResult<uint> GetMpState()
    {
        uint state = 0;
        return Libc.Ioctl(fd, KvmIoctl.GetMpState, &state) < 0
            ? new IoctlResult<uint>.Failed("KVM_GET_MP_STATE", Libc.Errno)
            : new IoctlResult<uint>.Ok(state);
    }

    /// <summary>KVM_GET_VCPU_EVENTS: whether an INIT is latched (<c>smi.latched_init</c>), not yet taken.</summary>
    public IoctlResult<bool> InitLatched() => GetVcpuEvents().Select(events => events[KvmIoctl.VcpuEventsLatchedInitOffset] != 0);

    /// <summary>KVM_GET_VCPU_EVENTS: whether the vCPU is in SMM (<c>smi.smm</c>, valid with KVM_VCPUEVENT_VALID_SMM).</summary>
    public IoctlResult<bool> InSmm()
    {
        var read = GetVcpuEvents();
        if (read is not IoctlResult<byte[]>.Ok(var events))
        {
            return read.Select(_ => false);
        }
        var flags = BinaryPrimitives.ReadUInt32LittleEndian(events.AsSpan(KvmIoctl.VcpuEventsFlagsOffset));
        return (flags & KvmIoctl.VcpuEventValidSmm) == 0
            ? new IoctlResult<bool>.Failed("KVM_GET_VCPU_EVENTS: no valid SMM state", 0)
            : new IoctlResult<bool>.Ok(events[KvmIoctl.VcpuEventsSmiOffset] != 0);
    }

    /// <summary>KVM_GET_VCPU_EVENTS: the 64-byte <c>struct kvm_vcpu_events</c> as the kernel filled it.</summary>
    private IoctlResult<byte[]> GetVcpuEvents()
    {
        var events = new byte[KvmIoctl.VcpuEventsSize];
        fixed (byte* p = events)
        {
            return Libc.Ioctl(fd, KvmIoctl.GetVcpuEvents, p) < 0
                ? new IoctlResult<byte[]>.Failed("KVM_GET_VCPU_EVENTS", Libc.Errno)
                : new IoctlResult<byte[]>.Ok(events);
        }
    }

    /// <summary>KVM_RUN until the guest exits to userspace (an interrupted run is retried).</summary>
    public IoctlResult<RunExit> Run()
    {
        while (true)
        {
            if (Libc.Ioctl(fd, KvmIoctl.Run, 0) < 0)
            {
                var errno = Libc.Errno;
                if (errno is Libc.EINTR or Libc.EAGAIN)
                {
                    continue;
                }
                return new IoctlResult<RunExit>.Failed("KVM_RUN", errno);
            }
            var page = (byte*)run;
            var reason = Unsafe.ReadUnaligned<uint>(page + KvmIoctl.RunExitReasonOffset);
            var info = page + KvmIoctl.RunExitInfoOffset;
            // io: direction (u8), size (u8), port (u16), count (u32), data_offset (u64, from the start of kvm_run);
            // internal: suberror (u32).
            var io = reason == KvmIoctl.ExitIo;
            var port = io ? Unsafe.ReadUnaligned<ushort>(info + 2) : (ushort)0;
            var ioOut = io && info[0] == KvmIoctl.ExitIoOut;
            var size = io ? info[1] : 0;
            var value = ioOut ? IoData(page + Unsafe.ReadUnaligned<ulong>(info + 8), size) : 0u;
            var suberror = reason == KvmIoctl.ExitInternalError ? Unsafe.ReadUnaligned<uint>(info) : 0u;
            KvmRegs regs;
            var rip = Libc.Ioctl(fd, KvmIoctl.GetRegs, &regs) < 0 ? ulong.MaxValue : regs.Rip;
            return new IoctlResult<RunExit>.Ok(new RunExit(reason, port, suberror, rip, ioOut, size, value));
        }
    }

    /// <summary>An OUT's value in the kvm_run data area: 1, 2 or 4 bytes, zero-extended.</summary>
    private static uint IoData(byte* data, int size) => size switch
    {
        1 => *data,
        2 => Unsafe.ReadUnaligned<ushort>(data),
        4 => Unsafe.ReadUnaligned<uint>(data),
        _ => throw new System.Diagnostics.UnreachableException($"KVM_EXIT_IO with size {size}"),
    };

    /// <inheritdoc/>
    public void Dispose()
    {
        Libc.Munmap(run, (nuint)runSize);
        Libc.Close(fd);
    }
}
