using System.Runtime.InteropServices;

namespace CpuidFunctional.Oracle.Native;

/// <summary><c>struct kvm_segment</c> (24 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct KvmSegment
{
    public ulong Base;
    public uint Limit;
    public ushort Selector;
    public byte Type;
    public byte Present;
    public byte Dpl;
    public byte Db;
    public byte S;
    public byte L;
    public byte G;
    public byte Avl;
    public byte Unusable;
    public byte Padding;
}
