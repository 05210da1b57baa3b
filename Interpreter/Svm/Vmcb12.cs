using CpuidFunctional.Interpreter.Machine;

namespace CpuidFunctional.Interpreter.Svm;

/// <summary>
/// The vmcb12 fields the interpreter uses, as VMRUN found them in guest memory (KVM's cached copy,
/// <c>nested_copy_vmcb_control_to_cache</c> and <c>nested_copy_vmcb_save_to_cache</c>): immutable data like vmcs12,
/// taken once per VMRUN, so L1 rewriting the page while L2 runs changes nothing until the next VMRUN. Offsets from the
/// AMD APM Vol. 2, appendix B (control area at 0, state-save area at 0x400).
/// </summary>
/// <param name="CrIntercepts">Intercept word 0: CR reads (bits 0–15), CR writes (bits 16–31).</param>
/// <param name="ExceptionIntercepts">Intercept word 2: one bit per exception vector.</param>
/// <param name="Word3">Intercept word 3 (INTR … SHUTDOWN; CPUID is bit 18).</param>
/// <param name="Word4">Intercept word 4 (VMRUN, VMMCALL, VMLOAD, VMSAVE, STGI, CLGI, …, XSETBV bit 13).</param>
/// <param name="IopmBasePa">IOPM_BASE_PA: the I/O permission map (one bit per port).</param>
/// <param name="MsrpmBasePa">MSRPM_BASE_PA: the MSR permission map (two bits per MSR).</param>
/// <param name="Asid">The guest ASID (must not be 0).</param>
/// <param name="EventInj">EVENTINJ (bit 31: an event to inject; not modelled).</param>
/// <param name="CsAttrib">save.cs.attrib (bit 9 L, bit 10 D/B; the model reads no other segment state).</param>
/// <param name="Efer">save.efer.</param>
/// <param name="Cr4">save.cr4.</param>
/// <param name="Cr3">save.cr3.</param>
/// <param name="Cr0">save.cr0.</param>
/// <param name="Dr7">save.dr7.</param>
/// <param name="Dr6">save.dr6.</param>
/// <param name="Rflags">save.rflags.</param>
/// <param name="Rip">save.rip.</param>
/// <param name="Rsp">save.rsp.</param>
/// <param name="Rax">save.rax.</param>
public sealed record Vmcb12(
    uint CrIntercepts,
    uint ExceptionIntercepts,
    uint Word3,
    uint Word4,
    ulong IopmBasePa,
    ulong MsrpmBasePa,
    uint Asid,
    uint EventInj,
    ushort CsAttrib,
    ulong Efer,
    ulong Cr4,
    ulong Cr3,
    ulong Cr0,
    ulong Dr7,
    ulong Dr6,
    ulong Rflags,
    ulong Rip,
    ulong Rsp,
    ulong Rax
)
{
    /// <summary>Size of a VMCB: one 4 KiB page.</summary>
    public const int Size = 0x1000;

#pragma warning disable CS1591 // APM names and offsets.
    public const int CrInterceptsOffset = 0x00;
    public const int ExceptionInterceptsOffset = 0x08;
    public const int Word3Offset = 0x0C;
    public const int Word4Offset = 0x10;
    public const int IopmBasePaOffset = 0x40;
    public const int MsrpmBasePaOffset = 0x48;
    public const int AsidOffset = 0x58;
    public const int ExitCodeOffset = 0x70;
    public const int ExitCodeHiOffset = 0x74;
    public const int ExitInfo1Offset = 0x78;
    public const int ExitInfo2Offset = 0x80;
    public const int ExitIntInfoOffset = 0x88;
    public const int EventInjOffset = 0xA8;
    public const int NextRipOffset = 0xC8;
    public const int CsAttribOffset = 0x412;
    public const int EferOffset = 0x4D0;
    public const int Cr4Offset = 0x548;
    public const int Cr3Offset = 0x550;
    public const int Cr0Offset = 0x558;
    public const int Dr7Offset = 0x560;
    public const int Dr6Offset = 0x568;
    public const int RflagsOffset = 0x570;
    public const int RipOffset = 0x578;
    public const int RspOffset = 0x5D8;
    public const int RaxOffset = 0x5F8;

    public const uint CrWriteShift = 16;
    public const uint InterceptCpuid = 1u << 18;       // word 3
    public const uint InterceptSelectiveCr0 = 1u << 5; // word 3
    public const uint InterceptHlt = 1u << 24;         // word 3
    public const uint InterceptIoioProt = 1u << 27;    // word 3
    public const uint InterceptMsrProt = 1u << 28;     // word 3
    public const uint InterceptShutdown = 1u << 31;    // word 3
    public const uint InterceptVmrun = 1u << 0;        // word 4
    public const uint InterceptVmmcall = 1u << 1;      // word 4
    public const uint InterceptVmload = 1u << 2;       // word 4
    public const uint InterceptVmsave = 1u << 3;       // word 4
    public const uint InterceptStgi = 1u << 4;         // word 4
    public const uint InterceptClgi = 1u << 5;         // word 4
    public const uint InterceptXsetbv = 1u << 13;      // word 4
#pragma warning restore CS1591

    /// <summary>The vmcb12 at a page of guest memory (the caller checked the page is inside memory).</summary>
    public static Vmcb12 Read(GuestMemory m, ulong page) =>
        new(
            CrIntercepts: (uint)m.Read(page + CrInterceptsOffset, 4),
            ExceptionIntercepts: (uint)m.Read(page + ExceptionInterceptsOffset, 4),
            Word3: (uint)m.Read(page + Word3Offset, 4),
            Word4: (uint)m.Read(page + Word4Offset, 4),
            IopmBasePa: m.Read(page + IopmBasePaOffset, 8),
            MsrpmBasePa: m.Read(page + MsrpmBasePaOffset, 8),
            Asid: (uint)m.Read(page + AsidOffset, 4),
            EventInj: (uint)m.Read(page + EventInjOffset, 4),
            CsAttrib: (ushort)m.Read(page + CsAttribOffset, 2),
            Efer: m.Read(page + EferOffset, 8),
            Cr4: m.Read(page + Cr4Offset, 8),
            Cr3: m.Read(page + Cr3Offset, 8),
            Cr0: m.Read(page + Cr0Offset, 8),
            Dr7: m.Read(page + Dr7Offset, 8),
            Dr6: m.Read(page + Dr6Offset, 8),
            Rflags: m.Read(page + RflagsOffset, 8),
            Rip: m.Read(page + RipOffset, 8),
            Rsp: m.Read(page + RspOffset, 8),
            Rax: m.Read(page + RaxOffset, 8)
        );

    /// <summary>Whether intercept word 0 asks for an exit on a MOV from CRn (bit n).</summary>
    public bool InterceptsCrRead(int cr) => ((CrIntercepts >> cr) & 1) != 0;

    /// <summary>Whether intercept word 0 asks for an exit on a MOV to CRn (bit 16 + n).</summary>
    public bool InterceptsCrWrite(int cr) => ((CrIntercepts >> (int)(CrWriteShift + (uint)cr)) & 1) != 0;

    /// <summary>Whether vmcb12 intercepts an exception vector.</summary>
    public bool InterceptsException(int vector) => ((ExceptionIntercepts >> vector) & 1) != 0;

    /// <summary>The CPUID and XSETBV intercepts, as Core keeps them while L2 runs.</summary>
    public Vmcb12Intercepts CoreIntercepts =>
        ((Word3 & InterceptCpuid) != 0 ? Vmcb12Intercepts.Cpuid : Vmcb12Intercepts.None)
        | ((Word4 & InterceptXsetbv) != 0 ? Vmcb12Intercepts.Xsetbv : Vmcb12Intercepts.None);
}
