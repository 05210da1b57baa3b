using System.Globalization;
using System.Text;

namespace CpuidFunctional.Interpreter.Machine;

/// <summary>
/// The register file of the running level: RAX..R15 (numbered 0–15), RIP and RFLAGS. A value type: changing a
/// register gives a new value; nothing is shared or allocated.
/// </summary>
public readonly struct Registers : IEquatable<Registers>
{
    /// <summary>RAX.</summary>
    public const int Rax = 0;

    /// <summary>RCX.</summary>
    public const int Rcx = 1;

    /// <summary>RDX.</summary>
    public const int Rdx = 2;

    /// <summary>RBX.</summary>
    public const int Rbx = 3;

    /// <summary>RSP.</summary>
    public const int Rsp = 4;

    /// <summary>RBP.</summary>
    public const int Rbp = 5;

    /// <summary>RSI.</summary>
    public const int Rsi = 6;

    /// <summary>RDI.</summary>
    public const int Rdi = 7;

    private static readonly string[] Names =
    [
        "rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",
    ];

    private readonly Gpr16 gprs;

    internal Registers(Gpr16 gprs, ulong rip, ulong rflags)
    {
        this.gprs = gprs;
        Rip = rip;
        Rflags = rflags;
    }

    /// <summary>Registers all zero except RIP, RSP and RFLAGS.</summary>
    public static Registers Initial(ulong rip, ulong rsp, ulong rflags) => new Registers(default, rip, rflags).With(Rsp, rsp);

    /// <summary>The instruction pointer.</summary>
    public ulong Rip { get; }

    /// <summary>RFLAGS.</summary>
    public ulong Rflags { get; }

    /// <summary>The 16 general-purpose registers (for the run loop's working copy).</summary>
    internal Gpr16 Gprs => gprs;

    /// <summary>General-purpose register <paramref name="number"/> (0 = RAX … 15 = R15).</summary>
    public ulong this[int number] => gprs[number];

    /// <summary>The same registers with one general-purpose register replaced.</summary>
    public Registers With(int number, ulong value)
    {
        var copy = gprs;
        copy[number] = value;
        return new Registers(copy, Rip, Rflags);
    }

    /// <summary>The same registers with another RIP.</summary>
    public Registers WithRip(ulong rip) => new(gprs, rip, Rflags);

    /// <summary>The same registers with another RFLAGS.</summary>
    public Registers WithRflags(ulong rflags) => new(gprs, Rip, rflags);

    /// <summary>The same registers with one general-purpose register and RIP replaced.</summary>
    public Registers With(int number, ulong value, ulong rip)
    {
        var copy = gprs;
        copy[number] = value;
        return new Registers(copy, rip, Rflags);
    }

    /// <inheritdoc/>
    public bool Equals(Registers other) =>
        Rip == other.Rip && Rflags == other.Rflags && ((ReadOnlySpan<ulong>)gprs).SequenceEqual(other.gprs);

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is Registers other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Rip, Rflags, gprs[0], gprs[1], gprs[2], gprs[3]);

    /// <summary>Value equality.</summary>
    public static bool operator ==(Registers left, Registers right) => left.Equals(right);

    /// <summary>Value inequality.</summary>
    public static bool operator !=(Registers left, Registers right) => !left.Equals(right);

    /// <summary>All registers in hex.</summary>
    public override string ToString()
    {
        var s = new StringBuilder();
        s.Append(CultureInfo.InvariantCulture, $"rip=0x{Rip:x} rflags=0x{Rflags:x}");
        for (var i = 0; i < 16; i++)
        {
            s.Append(CultureInfo.InvariantCulture, $" {Names[i]}=0x{gprs[i]:x}");
        }
        return s.ToString();
    }
}
