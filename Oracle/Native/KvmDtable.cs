using System.Runtime.InteropServices;

namespace CpuidFunctional.Oracle.Native;

/// <summary><c>struct kvm_dtable</c> (16 bytes): a GDT or IDT base and limit.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct KvmDtable
{
    public ulong Base;
    public ushort Limit;
    public ushort Padding0;
    public ushort Padding1;
    public ushort Padding2;
}
