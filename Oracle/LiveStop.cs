using System.Globalization;

namespace CpuidFunctional.Oracle;

/// <summary>Why a live program run ended. A closed union; a failure is a value, never an exception.</summary>
public abstract record LiveStop
{
    private LiveStop() { }

    private static string Hex(ulong v) => "0x" + v.ToString("x", CultureInfo.InvariantCulture);

    /// <summary>KVM_EXIT_HLT: the program's HLT. KVM reports the RIP after it.</summary>
    /// <param name="RipAfter">RIP after the HLT.</param>
    public sealed record Halted(ulong RipAfter) : LiveStop
    {
        /// <inheritdoc/>
        public override string ToString() => $"HLT (RIP after it {Hex(RipAfter)})";
    }

    /// <summary>KVM_EXIT_SHUTDOWN: a triple fault (the program has no IDT) that no L1 intercepted.</summary>
    /// <param name="Rip">RIP at the exit.</param>
    public sealed record Shutdown(ulong Rip) : LiveStop
    {
        /// <inheritdoc/>
        public override string ToString() => $"shutdown at {Hex(Rip)}";
    }

    /// <summary>Any other exit to userspace (an IN, MMIO, FAIL_ENTRY, INTERNAL_ERROR, ...).</summary>
    /// <param name="Exit">The exit.</param>
    public sealed record UnexpectedExit(RunExit Exit) : LiveStop
    {
        /// <inheritdoc/>
        public override string ToString() => "unexpected " + Exit;
    }

    /// <summary>The program was still running after this many exits.</summary>
    /// <param name="Exits">The limit.</param>
    public sealed record ExitLimit(int Exits) : LiveStop
    {
        /// <inheritdoc/>
        public override string ToString() => $"still running after {Exits} exits";
    }

    /// <summary>A call the runner needs failed (VM creation, KVM_SET_CPUID2, KVM_SET_SREGS, KVM_RUN, ...).</summary>
    /// <param name="What">The call and its errno.</param>
    public sealed record Failed(string What) : LiveStop
    {
        /// <inheritdoc/>
        public override string ToString() => "runner failure: " + What;
    }
}
