using System.Globalization;

namespace CpuidFunctional.Properties.Live;

/// <summary>
/// One generated step of a live trace. Most are plain Core events; a few depend on the live start state (the
/// table, PVM's IA32_MISC_ENABLE value) and are made concrete when the trace runs.
/// </summary>
public abstract record TraceStep
{
    private TraceStep() { }

    /// <summary>A Core event as is.</summary>
    public sealed record Event(VcpuEvent Value) : TraceStep
    {
        /// <inheritdoc/>
        public override string ToString() => Value.ToString();
    }

    /// <summary>KVM_SET_CPUID2 of a variant of the start table.</summary>
    public sealed record SetCpuid(CpuidVariant Variant) : TraceStep
    {
        /// <inheritdoc/>
        public override string ToString() => $"KVM_SET_CPUID2 <{Variant}>";
    }

    /// <summary>KVM_GET_CPUID2 with nent = table size + <paramref name="Delta"/> (at least 0).</summary>
    public sealed record GetCpuid(int Delta) : TraceStep
    {
        /// <inheritdoc/>
        public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"KVM_GET_CPUID2 nent=n{Delta:+0;-0;+0}");
    }

    /// <summary>A write of the start IA32_MISC_ENABLE with bit 18 = <paramref name="Mwait"/>, optionally flipping the read-only BTS bit.</summary>
    public sealed record MiscEnableWrite(bool HostInitiated, bool Mwait, bool FlipReadOnly) : TraceStep
    {
        /// <inheritdoc/>
        public override string ToString() =>
            $"{(HostInitiated ? "KVM_SET_MSRS" : "WRMSR")} MISC_ENABLE <start, bit18={(Mwait ? 1 : 0)}{(FlipReadOnly ? ", BTS flipped" : "")}>";
    }
}
