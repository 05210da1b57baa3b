using System.Globalization;
using System.Runtime.InteropServices;

namespace CpuidFunctional.Core.Cpuid;

/// <summary>Flags of a <c>struct kvm_cpuid_entry2</c>.</summary>
[Flags]
public enum CpuidFlags : uint
{
    /// <summary>No flag: the entry matches every sub-leaf of its function.</summary>
    None = 0,

    /// <summary><c>KVM_CPUID_FLAG_SIGNIFCANT_INDEX</c>: the entry matches only its own index.</summary>
    SignificantIndex = 1,
}

/// <summary>The four output registers of CPUID.</summary>
public enum CpuidRegister
{
    /// <summary>EAX.</summary>
    Eax,

    /// <summary>EBX.</summary>
    Ebx,

    /// <summary>ECX.</summary>
    Ecx,

    /// <summary>EDX.</summary>
    Edx,
}

/// <summary>One entry of a vCPU's CPUID table: <c>struct kvm_cpuid_entry2</c> without its padding words.</summary>
/// <remarks>
/// Performance: laid out in 32 bytes, not 28. The JIT copies a 28-byte value as two overlapping 16-byte moves, and
/// reading such a copy back right away cannot be forwarded from the stores; with 32 bytes the halves do not overlap.
/// BenchmarkDotNet's <c>MaterializeBenchmarks.Unchanged</c>: 60–63 ns before, 47–52 ns after, when
/// <see cref="Dynamic.DynamicBits.Materialize(Model.Vm, Dynamic.DynamicInputs, CpuidTable, State.DynamicCaps, Model.KvmRules)"/> still copied every entry it looked at. A copy made right after one
/// field was written (<c>with</c>) waits all the same, so the update now reads and writes single registers
/// (<see cref="CpuidTable.Output"/>, <see cref="CpuidTable.WithOutputs"/>).
/// </remarks>
/// <param name="Function">The leaf (EAX input).</param>
/// <param name="Index">The sub-leaf (ECX input); only compared when <see cref="CpuidFlags.SignificantIndex"/> is set.</param>
/// <param name="Flags">The entry's flags.</param>
/// <param name="Eax">Output EAX.</param>
/// <param name="Ebx">Output EBX.</param>
/// <param name="Ecx">Output ECX.</param>
/// <param name="Edx">Output EDX.</param>
[StructLayout(LayoutKind.Sequential, Size = 32)]
public readonly record struct CpuidEntry(uint Function, uint Index, CpuidFlags Flags, uint Eax, uint Ebx, uint Ecx, uint Edx)
{
    /// <summary>Field-by-field equality, written out so that it inlines (the generated one is a call per comparison).</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    public bool Equals(CpuidEntry other) =>
        Function == other.Function && Index == other.Index && Flags == other.Flags
        && Eax == other.Eax && Ebx == other.Ebx && Ecx == other.Ecx && Edx == other.Edx;

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Function, Index, Flags, Eax, Ebx, Ecx, Edx);

    /// <summary>An entry with <see cref="CpuidFlags.SignificantIndex"/> set.</summary>
    public static CpuidEntry Indexed(uint function, uint index, uint eax, uint ebx, uint ecx, uint edx) =>
        new(function, index, CpuidFlags.SignificantIndex, eax, ebx, ecx, edx);

    /// <summary>An entry without the significant-index flag (matches every sub-leaf).</summary>
    public static CpuidEntry Plain(uint function, uint eax, uint ebx, uint ecx, uint edx) =>
        new(function, 0, CpuidFlags.None, eax, ebx, ecx, edx);

    /// <summary>Whether the index is compared on lookup.</summary>
    public bool HasSignificantIndex => (Flags & CpuidFlags.SignificantIndex) != 0;

    /// <summary>KVM's match rule (<c>cpuid_entry2_find</c>): same function, and the index is equal or not significant.</summary>
    public bool Matches(uint function, uint index) =>
        Function == function && (!HasSignificantIndex || Index == index);

    /// <summary>One output register (<see cref="ArgumentOutOfRangeException"/> for anything but EAX–EDX).</summary>
    public uint Get(CpuidRegister register) => register switch
    {
        CpuidRegister.Eax => Eax,
        CpuidRegister.Ebx => Ebx,
        CpuidRegister.Ecx => Ecx,
        CpuidRegister.Edx => Edx,
        _ => throw NotAnOutputRegister(register),
    };

    /// <summary>This entry with one output register replaced (<see cref="ArgumentOutOfRangeException"/> for anything but EAX–EDX).</summary>
    public CpuidEntry With(CpuidRegister register, uint value) => register switch
    {
        CpuidRegister.Eax => this with { Eax = value },
        CpuidRegister.Ebx => this with { Ebx = value },
        CpuidRegister.Ecx => this with { Ecx = value },
        CpuidRegister.Edx => this with { Edx = value },
        _ => throw NotAnOutputRegister(register),
    };

    /// <summary>The error for a register value outside EAX–EDX.</summary>
    internal static ArgumentOutOfRangeException NotAnOutputRegister(CpuidRegister register) =>
        new(nameof(register), register, "not an output register");

    /// <summary>Whether one bit of one register is set.</summary>
    public bool Has(CpuidRegister register, int bit) => IsBitSet(Get(register), bit);

    /// <summary>This entry with one bit of one register set or cleared.</summary>
    public CpuidEntry WithBit(CpuidRegister register, int bit, bool set)
    {
        var old = Get(register);
        var value = SetOrClearBit(old, bit, set);
        return value == old ? this : With(register, value);
    }

    /// <summary>Whether one bit of an output register's value is set.</summary>
    internal static bool IsBitSet(uint value, int bit) => ((value >> bit) & 1) != 0;

    /// <summary>An output register's value with one bit set or cleared.</summary>
    internal static uint SetOrClearBit(uint value, int bit, bool set) => set ? value | (1u << bit) : value & ~(1u << bit);

    /// <summary>The <c>cpuid -r</c>-like form: <c>0x0000000d.01 flags=1: eax=... ebx=... ecx=... edx=...</c>.</summary>
    public override string ToString() =>
        string.Create(
            CultureInfo.InvariantCulture,
            $"0x{Function:x8}.{Index:x2} flags={(uint)Flags}: eax=0x{Eax:x8} ebx=0x{Ebx:x8} ecx=0x{Ecx:x8} edx=0x{Edx:x8}"
        );
}
