namespace CpuidFunctional.Interpreter.Machine;

/// <summary>
/// The machine contract (docs/interpreter.md): where a program is loaded, how much memory there is, and the vCPU
/// state a run starts from (RESET plus the 64-bit set-up a VMM performs with KVM_SET_SREGS).
/// </summary>
public static class MachineLayout
{
    /// <summary>Guest-physical (= linear) address a program is loaded at and entered at.</summary>
    public const ulong LoadAddress = 0x1000;

    /// <summary>Guest memory size: 2 MiB, identity mapped.</summary>
    public const ulong MemorySize = 0x20_0000;

    /// <summary>Largest program: it must end below <see cref="DataArea"/>.</summary>
    public const int MaxProgramSize = (int)(DataArea - LoadAddress);

    /// <summary>Start of memory the round-trip harness uses for VMX regions and MSR lists (programs may use it freely otherwise).</summary>
    public const ulong DataArea = 0x10_0000;

    /// <summary>Initial RSP: the stack grows down from the top of memory.</summary>
    public const ulong InitialRsp = MemorySize;

    /// <summary>Initial RFLAGS: only the always-one bit 1.</summary>
    public const ulong InitialRflags = Rflags.Fixed1;

    /// <summary>CR0.PE (protection).</summary>
    public const ulong Cr0Pe = 1ul << 0;

    /// <summary>CR0.MP.</summary>
    public const ulong Cr0Mp = 1ul << 1;

    /// <summary>CR0.ET.</summary>
    public const ulong Cr0Et = 1ul << 4;

    /// <summary>CR0.NE.</summary>
    public const ulong Cr0Ne = 1ul << 5;

    /// <summary>CR0.WP.</summary>
    public const ulong Cr0Wp = 1ul << 16;

    /// <summary>CR0.NW.</summary>
    public const ulong Cr0Nw = 1ul << 29;

    /// <summary>CR0.CD.</summary>
    public const ulong Cr0Cd = 1ul << 30;

    /// <summary>CR0.PG (paging).</summary>
    public const ulong Cr0Pg = 1ul << 31;

    /// <summary>Initial CR0 = PE | MP | ET | NE | WP | PG = 0x80010033.</summary>
    public const ulong InitialCr0 = Cr0Pe | Cr0Mp | Cr0Et | Cr0Ne | Cr0Wp | Cr0Pg;

    /// <summary>Initial CR4 = PAE | OSFXSR | OSXMMEXCPT = 0x620 (OSXSAVE, PKE and VMXE clear).</summary>
    public const ulong InitialCr4 = Core.State.Cr4.Pae | Core.State.Cr4.OsFxsr | Core.State.Cr4.OsXmmExcpt;

    /// <summary>EFER.LME (bit 8).</summary>
    public const ulong EferLme = 1ul << 8;

    /// <summary>EFER.LMA (bit 10).</summary>
    public const ulong EferLma = 1ul << 10;

    /// <summary>Initial IA32_EFER = LME | LMA = 0x500 (64-bit mode).</summary>
    public const ulong InitialEfer = EferLme | EferLma;
}
