using System.Runtime.InteropServices;

namespace CpuidFunctional.Oracle.Native;

/// <summary><c>struct kvm_sregs</c> (312 bytes): segments, descriptor tables, control registers, EFER, APIC base.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct KvmSregs
{
    public KvmSegment Cs;
    public KvmSegment Ds;
    public KvmSegment Es;
    public KvmSegment Fs;
    public KvmSegment Gs;
    public KvmSegment Ss;
    public KvmSegment Tr;
    public KvmSegment Ldt;
    public KvmDtable Gdt;
    public KvmDtable Idt;
    public ulong Cr0;
    public ulong Cr2;
    public ulong Cr3;
    public ulong Cr4;
    public ulong Cr8;
    public ulong Efer;
    public ulong ApicBase;
    public fixed ulong InterruptBitmap[4];
}
