using System.Globalization;
using CpuidFunctional.Core.Cpuid;
using CpuidFunctional.Core.State;

namespace CpuidFunctional.Core.Model;

/// <summary>Architectural exceptions the model raises.</summary>
public enum X86Exception
{
    /// <summary>#UD, invalid opcode (vector 6).</summary>
    UD = 6,

    /// <summary>#GP(0), general protection (vector 13).</summary>
    GP = 13,
}

/// <summary>ioctl error numbers the model returns (as positive errno values).</summary>
public enum Errno
{
    /// <summary>EPERM: operation not permitted (KVM_SET_CPUID2 offering AMX tile data the process may not give a guest).</summary>
    EPERM = 1,

    /// <summary>E2BIG: argument list too long (a CPUID buffer too small or too large).</summary>
    E2BIG = 7,

    /// <summary>EINVAL: invalid argument.</summary>
    EINVAL = 22,
}

/// <summary>
/// What an event lets the outside world see. Two policies are equivalent when they produce equal observations for
/// every event of every trace. A closed union.
/// </summary>
public abstract record Observation
{
    private Observation() { }

    private static string Hex(ulong v) => "0x" + v.ToString("x8", CultureInfo.InvariantCulture);

    /// <summary>A CPUID answer (guest CPUID emulated by L0).</summary>
    public sealed record CpuidResult(uint Leaf, uint Subleaf, uint Eax, uint Ebx, uint Ecx, uint Edx) : Observation
    {
        /// <inheritdoc/>
        public override string ToString() =>
            $"CPUID {Hex(Leaf)}.{Subleaf:x}: eax={Hex(Eax)} ebx={Hex(Ebx)} ecx={Hex(Ecx)} edx={Hex(Edx)}";
    }

    /// <summary>The table KVM_GET_CPUID2 copied out.</summary>
    public sealed record Cpuid2(CpuidTable Table) : Observation
    {
        /// <inheritdoc/>
        public override string ToString() => "KVM_GET_CPUID2 -> " + Table;
    }

    /// <summary>An exception injected into the guest.</summary>
    public sealed record Fault(X86Exception Vector) : Observation
    {
        /// <inheritdoc/>
        public override string ToString() => "#" + Vector;
    }

    /// <summary>An ioctl that failed with an errno.</summary>
    public sealed record IoctlError(Errno Errno) : Observation
    {
        /// <inheritdoc/>
        public override string ToString() => "-" + Errno;
    }

    /// <summary>An ioctl that succeeded, with its return value (0, or the count for KVM_SET_MSRS).</summary>
    public sealed record IoctlDone(int Value) : Observation
    {
        /// <inheritdoc/>
        public override string ToString() => "ok " + Value.ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>A value RDMSR returned.</summary>
    public sealed record MsrValue(uint Index, ulong Value) : Observation
    {
        /// <inheritdoc/>
        public override string ToString() => $"RDMSR {Hex(Index)} = {Hex(Value)}";
    }

    /// <summary>MONITOR/MWAIT emulated as a NOP.</summary>
    public sealed record MwaitNop : Observation
    {
        /// <inheritdoc/>
        public override string ToString() => "MWAIT nop";
    }

    /// <summary>Nested VM-entry failed loading MSR-load entry number <paramref name="Qualification"/> (1-based; exit reason 34).</summary>
    public sealed record VmEntryMsrLoadFailed(uint Qualification) : Observation
    {
        /// <inheritdoc/>
        public override string ToString() => $"VM-entry failure: MSR load entry {Qualification}";
    }

    /// <summary>VMX abort during VM-exit (indicator 4: loading a host MSR failed).</summary>
    public sealed record VmxAbort(uint Indicator) : Observation
    {
        /// <inheritdoc/>
        public override string ToString() => $"VMX abort {Indicator}";
    }

    /// <summary>
    /// The instruction is not L0's to emulate: L2 ran it and it exits to L1 with this basic exit reason
    /// (<c>nested_vmx_l1_wants_exit</c>, decided by <see cref="Kvm.NestedVmxL1WantsExit"/>: CPUID, reason 10, and XSETBV,
    /// 55, always do; MOV to CR4, 28, when it changes a bit L1 owns). The state is unchanged until the nested VM exit
    /// itself (<see cref="State.VcpuEvent.NestedVmExit"/>) is applied.
    /// </summary>
    public sealed record ExitToL1(uint Reason) : Observation
    {
        /// <summary>EXIT_REASON_TRIPLE_FAULT.</summary>
        public const uint TripleFault = 2;

        /// <summary>EXIT_REASON_CPUID.</summary>
        public const uint Cpuid = 10;

        /// <summary>EXIT_REASON_CR_ACCESS (MOV to CR4 changing a bit L1 owns).</summary>
        public const uint CrAccess = 28;

        /// <summary>EXIT_REASON_XSETBV.</summary>
        public const uint Xsetbv = 55;

        /// <summary>The name <c>expect exit-to-l1</c> uses for a reason (cpuid, cr-access, xsetbv), or null.</summary>
        public static string? Name(uint reason) => reason switch
        {
            TripleFault => "triple-fault",
            Cpuid => "cpuid",
            CrAccess => "cr-access",
            Xsetbv => "xsetbv",
            _ => null,
        };

        /// <inheritdoc/>
        public override string ToString() => Name(Reason) is { } name ? $"exit to L1 ({name})" : $"exit to L1 (reason {Reason})";
    }

    /// <summary>
    /// L2 ran an instruction vmcb12 intercepts: it exits to L1 with this SVM exit code (<c>nested_svm_intercept</c>;
    /// <see cref="SvmExitCode"/>). The state is unchanged until the #VMEXIT itself
    /// (<see cref="State.VcpuEvent.NestedSvmVmexit"/>) is applied.
    /// </summary>
    public sealed record SvmExitToL1(ulong ExitCode) : Observation
    {
        /// <inheritdoc/>
        public override string ToString() => $"exit to L1 ({SvmExitCode.Name(ExitCode)})";
    }

    /// <summary>
    /// KVM_RUN returned to userspace with KVM_EXIT_IO (exit reason 2) for a guest IN or OUT: the direction, the port,
    /// the size, one repetition and, for OUT, the data (<c>kvm_fast_pio</c>; userspace completes it).
    /// </summary>
    public sealed record ExitIo(bool IsIn, ushort Port, byte Size, uint Data) : Observation
    {
        /// <summary>KVM_EXIT_IO.</summary>
        public const uint Reason = 2;

        /// <inheritdoc/>
        public override string ToString() =>
            IsIn ? $"KVM_EXIT_IO in port=0x{Port:x} size={Size}" : $"KVM_EXIT_IO out port=0x{Port:x} size={Size} data=0x{Data:x}";
    }

    /// <summary>
    /// KVM_RUN returned to userspace with KVM_EXIT_SHUTDOWN (exit reason 8): a triple fault L1 does not take
    /// (<c>handle_triple_fault</c> on VMX; on SVM <c>shutdown_interception</c>, which INITs the vCPU first).
    /// </summary>
    public sealed record ExitShutdown : Observation
    {
        /// <summary>KVM_EXIT_SHUTDOWN.</summary>
        public const uint Reason = 8;

        /// <inheritdoc/>
        public override string ToString() => "KVM_EXIT_SHUTDOWN";
    }

    /// <summary>
    /// HLT halted the vCPU inside KVM (<c>__kvm_emulate_halt</c> with the local APIC in the kernel: mp_state HALTED,
    /// KVM_RUN does not return until an event wakes it). Without an in-kernel local APIC it would be KVM_EXIT_HLT,
    /// which the model's VMs never give.
    /// </summary>
    public sealed record Halted : Observation
    {
        /// <inheritdoc/>
        public override string ToString() => "halted in KVM";
    }

    /// <summary>What guest XGETBV of XCR0 returned.</summary>
    public sealed record Xcr0Value(ulong Value) : Observation
    {
        /// <inheritdoc/>
        public override string ToString() => $"XCR0 0x{Value:x}";
    }

    /// <summary>KVM_GET_SREGS: the modelled registers.</summary>
    public sealed record Sregs(ulong Cr4, ulong ApicBase) : Observation
    {
        /// <summary>CR0 (the RESET value unless KVM_SET_SREGS, RESET or INIT changed it).</summary>
        public ulong Cr0 { get; init; } = State.Cr0.AtReset;

        /// <summary>IA32_EFER.</summary>
        public ulong Efer { get; init; }

        /// <inheritdoc/>
        public override string ToString() => $"sregs cr0=0x{Cr0:x} cr4=0x{Cr4:x} efer=0x{Efer:x} apic_base=0x{ApicBase:x}";
    }

    /// <summary>What a guest MOV from CR4 read.</summary>
    public sealed record Cr4Value(ulong Value) : Observation
    {
        /// <inheritdoc/>
        public override string ToString() => $"CR4 0x{Value:x}";
    }

    /// <summary>KVM_GET_XCRS: the registers returned (0 without host XSAVE, else 1: XCR0).</summary>
    public sealed record Xcrs(int Count, ulong Xcr0) : Observation
    {
        /// <inheritdoc/>
        public override string ToString() => Count == 0 ? "xcrs none" : $"xcrs XCR0=0x{Xcr0:x}";
    }

    /// <summary>KVM_GET_MSRS: the entries read, in order, up to the first refusal (the ioctl returns their count).</summary>
    public sealed record Msrs(ValueArray<MsrEntry> Read) : Observation
    {
        /// <inheritdoc/>
        public override string ToString() => $"msrs [{string.Join(", ", Read.Select(e => $"0x{e.Index:x}=0x{e.Value:x}"))}]";
    }
}
