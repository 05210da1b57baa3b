namespace CpuidFunctional.Oracle;

/// <summary>
/// Where the guest programs and their data live in guest physical memory, and the command record both programs
/// read. One command per KVM_RUN: the host writes the record, runs, and reads the result at the OUT exit.
/// </summary>
public static class GuestLayout
{
    /// <summary>Real-mode interrupt vector table (256 × 4 bytes).</summary>
    public const int Ivt = 0x0000;

    /// <summary>
    /// The real-mode IDTR pseudo-descriptor (u16 limit <see cref="RealModeIdtLimit"/>, u32 base <see cref="Ivt"/>),
    /// loaded by the SMM entry stub: <c>enter_smm</c> zeroes the IDT limit, so any exception in SMM would triple-fault.
    /// </summary>
    public const int RealModeIdtr = 0x0400;

    /// <summary>The limit of the real-mode IVT: 256 four-byte vectors.</summary>
    public const ushort RealModeIdtLimit = (256 * 4) - 1;

    /// <summary>Protected-mode GDT: null, code0, data0, code3, data3, TSS.</summary>
    public const int Gdt = 0x0500;

    /// <summary>32-bit TSS (ESP0/SS0 for the ring-0 exception handlers).</summary>
    public const int Tss = 0x0600;

    /// <summary>Protected-mode IDT (32 interrupt gates).</summary>
    public const int Idt = 0x0800;

    /// <summary>The real-mode command interpreter (CPL0).</summary>
    public const int RealModeCode = 0x1000;

    /// <summary>Top of the real-mode stack.</summary>
    public const int RealModeStackTop = 0x3000;

    /// <summary>The command record.</summary>
    public const int Command = 0x4000;

    /// <summary>The protected-mode interpreter (CPL3; CPUID and MONITOR/MWAIT).</summary>
    public const int ProtectedModeCode = 0x5000;

    /// <summary>Top of the ring-0 stack (TSS ESP0).</summary>
    public const int Ring0StackTop = 0x7000;

    /// <summary>Top of the ring-3 stack.</summary>
    public const int Ring3StackTop = 0x9000;

    /// <summary>KVM's SMBASE after RESET (<c>kvm_vcpu_reset</c>); the guest never relocates it.</summary>
    public const int SmBase = 0x3_0000;

    /// <summary>
    /// Where <c>enter_smm</c> starts the vCPU, relative to SMBASE: CS base SMBASE (selector SMBASE >> 4), IP 0x8000,
    /// CR0.PE = 0 with 4 GiB segment limits, DS/ES/FS/GS/SS base 0.
    /// </summary>
    public const int SmmEntryOffset = 0x8000;

    /// <summary>The SMM entry stub (GPA SMBASE + 0x8000).</summary>
    public const int SmmEntry = SmBase + SmmEntryOffset;

    /// <summary>The 512-byte state-save area <c>enter_smm</c> writes and RSM reads (SMBASE + 0xFE00); nothing else lives there.</summary>
    public const int SmmStateSave = SmBase + 0xFE00;

    /// <summary>GDT descriptor: flat 4 GiB 32-bit code, DPL0 (the oracle's selector 0x08, and the SVM harness's).</summary>
    public const ulong FlatCodeDpl0 = 0x00CF_9A00_0000_FFFF;

    /// <summary>GDT descriptor: flat 4 GiB 32-bit data, DPL0 (selector 0x10).</summary>
    public const ulong FlatDataDpl0 = 0x00CF_9200_0000_FFFF;

    /// <summary>The port of the OUT that ends each command.</summary>
    public const ushort DonePort = 0x10;

    /// <summary>
    /// The port of the OUT with which a ring-0 exception handler of the CPL3 interpreter ends a faulted command. The
    /// handler does not IRET back to CPL3: KVM's instruction emulator (which runs this code under PVM) has no
    /// protected-mode IRET, so the host puts the vCPU back at CPL3 with KVM_SET_SREGS/KVM_SET_REGS instead.
    /// </summary>
    public const ushort FaultPort = 0x11;

    /// <summary>
    /// The port of the OUT at the reset vector: a vCPU that takes an INIT while the guest runs (one latched in SMM,
    /// taken when RSM leaves it) starts at F000:FFF0, GPA 0xFFFF_FFF0, where a stub reports it here.
    /// </summary>
    public const ushort ResetVectorPort = 0x13;

    /// <summary>
    /// The page at the top of 4 GiB that holds the reset vector (GPA 0xFFFF_FFF0, CS base 0xFFFF_0000 + IP 0xFFF0 after
    /// INIT or RESET). VMs with an in-kernel APIC map it as a second slot onto the last page of guest memory,
    /// <see cref="ResetVectorAlias"/>, as a PC's firmware is seen both below 1 MiB and below 4 GiB.
    /// </summary>
    public const uint ResetVectorPage = 0xFFFF_F000;

    /// <summary>Where the reset-vector page lives in guest memory (its last page).</summary>
    public const int ResetVectorAlias = 0xF_F000;

    /// <summary>The reset vector's offset in its page (and in the alias).</summary>
    public const int ResetVectorOffset = 0xFF0;

    // Command record fields (byte offsets).

    /// <summary>u32 operation (<see cref="GuestOp"/>).</summary>
    public const int OpOffset = 0;

    /// <summary>u32 argument a (CPUID leaf, CR4 value, XSETBV/WRMSR low half).</summary>
    public const int AOffset = 4;

    /// <summary>u32 argument b (CPUID sub-leaf, XSETBV/WRMSR high half).</summary>
    public const int BOffset = 8;

    /// <summary>u32 argument c (XCR or MSR index).</summary>
    public const int COffset = 12;

    /// <summary>Four u32 results (EAX, EBX, ECX, EDX).</summary>
    public const int ResultOffset = 16;

    /// <summary>u16 exception vector + 1 (0 = none), written by the handlers.</summary>
    public const int FaultOffset = 32;

    /// <summary>u16 faulting IP.</summary>
    public const int FaultIpOffset = 34;

    /// <summary>u32 set to 1 when the command completed or faulted.</summary>
    public const int DoneOffset = 36;

    /// <summary>Size of the record.</summary>
    public const int CommandSize = 64;
}
