namespace CpuidFunctional.Oracle;

/// <summary>
/// The machine a flat 64-bit program expects when it starts, as the interpreter's contract states it
/// (<c>MachineLayout</c>, docs/interpreter.md): where it is loaded and entered, how much memory is identity mapped,
/// and the registers a VMM sets with KVM_SET_SREGS and KVM_SET_REGS. The caller supplies it, so the oracle does not
/// restate the interpreter's numbers.
/// </summary>
/// <param name="LoadAddress">Guest-physical (= linear) load and entry address.</param>
/// <param name="MemorySize">Bytes of guest memory from GPA 0, identity mapped; a multiple of 2 MiB.</param>
/// <param name="Cr0">Initial CR0 (with PE and PG).</param>
/// <param name="Cr4">Initial CR4 (with PAE).</param>
/// <param name="Efer">Initial EFER (with LME and LMA).</param>
/// <param name="Rsp">Initial RSP.</param>
/// <param name="Rflags">Initial RFLAGS.</param>
public sealed record ProgramMachine(ulong LoadAddress, ulong MemorySize, ulong Cr0, ulong Cr4, ulong Efer, ulong Rsp, ulong Rflags);
