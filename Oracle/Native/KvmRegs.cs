using System.Runtime.InteropServices;

namespace CpuidFunctional.Oracle.Native;

/// <summary><c>struct kvm_regs</c> (144 bytes): the general-purpose registers, RIP and RFLAGS.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct KvmRegs
{
    public ulong Rax;
    public ulong Rbx;
    public ulong Rcx;
    public ulong Rdx;
    public ulong Rsi;
    public ulong Rdi;
    public ulong Rsp;
    public ulong Rbp;
    public ulong R8;
    public ulong R9;
    public ulong R10;
    public ulong R11;
    public ulong R12;
    public ulong R13;
    public ulong R14;
    public ulong R15;
    public ulong Rip;
    public ulong Rflags;
}
