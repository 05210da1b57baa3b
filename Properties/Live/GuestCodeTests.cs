using CpuidFunctional.Oracle;
using Iced.Intel;

namespace CpuidFunctional.Properties.Live;

/// <summary>The Iced-assembled guest programs decode to what the oracle relies on. Runs everywhere, KVM or not.</summary>
public class GuestCodeTests
{
    private static readonly GuestImage Image = GuestCode.Assemble();

    private static List<Instruction> Decode(byte[] code, int bitness, ulong origin)
    {
        var decoder = Decoder.Create(bitness, new ByteArrayCodeReader(code));
        decoder.IP = origin;
        var list = new List<Instruction>();
        while (decoder.IP < origin + (ulong)code.Length)
        {
            list.Add(decoder.Decode());
        }
        return list;
    }

    [Fact]
    public void Real_mode_interpreter_decodes_and_contains_every_guest_instruction_the_oracle_runs()
    {
        var code = Decode([.. Image.RealMode.Items], 16, GuestLayout.RealModeCode);
        Assert.DoesNotContain(code, i => i.Code == Code.INVALID);
        var mnemonics = code.Select(i => i.Mnemonic).ToHashSet();
        Assert.Superset(new HashSet<Mnemonic> { Mnemonic.Cpuid, Mnemonic.Xsetbv, Mnemonic.Wrmsr, Mnemonic.Rdmsr, Mnemonic.Out }, mnemonics);
        Assert.Contains(code, i => i.Mnemonic == Mnemonic.Mov && i.Op0Register == Register.CR4);
        Assert.DoesNotContain(code, i => i.Mnemonic == Mnemonic.Xgetbv); // KVM's emulator lacks it (observations S4)
        Assert.Equal((ulong)GuestLayout.RealModeCode, Image.RealModeEntry);
    }

    [Fact]
    public void Each_real_mode_stub_records_its_own_vector_plus_one()
    {
        var code = Decode([.. Image.RealMode.Items], 16, GuestLayout.RealModeCode);
        Assert.Equal(32, Image.RealModeStubs.Count);
        Assert.Equal(32, Image.RealModeStubs.Distinct().Count());
        for (var n = 0; n < 32; n++)
        {
            var stub = code.Single(i => i.IP == Image.RealModeStubs[n]);
            Assert.Equal(Mnemonic.Mov, stub.Mnemonic);
            Assert.Equal(Register.SI, stub.MemoryBase);
            Assert.Equal((ulong)GuestLayout.FaultOffset, stub.MemoryDisplacement64);
            Assert.Equal((ulong)(n + 1), stub.GetImmediate(1));
        }
    }

    [Fact]
    public void Protected_mode_handlers_drop_error_codes_and_end_the_command_by_OUT_without_IRET()
    {
        var code = Decode([.. Image.ProtectedMode.Items], 32, GuestLayout.ProtectedModeCode);
        Assert.DoesNotContain(code, i => i.Code == Code.INVALID);
        Assert.Equal((ulong)GuestLayout.ProtectedModeCode, Image.ProtectedModeEntry); // the loop is the entry
        Assert.Contains(code, i => i.Mnemonic == Mnemonic.Cpuid);
        // KVM's emulator has no protected-mode IRET (v1252 probe fault12): no handler may use one.
        Assert.DoesNotContain(code, i => i.Mnemonic is Mnemonic.Iret or Mnemonic.Iretd or Mnemonic.Iretq);
        var gp = code.Single(i => i.IP == Image.ProtectedModeStubs[13]);
        Assert.Equal(Mnemonic.Add, gp.Mnemonic); // #GP pushes an error code
        var ud = code.Single(i => i.IP == Image.ProtectedModeStubs[6]);
        Assert.Equal(Mnemonic.Mov, ud.Mnemonic); // #UD does not
        var ports = code.Where(i => i.Mnemonic == Mnemonic.Mov && i.Op0Register == Register.DX).Select(i => i.Immediate16).ToList();
        Assert.Equal([GuestLayout.DonePort, GuestLayout.FaultPort], ports);
        Assert.Equal(2, code.Count(i => i.Mnemonic == Mnemonic.Out));
    }
}
