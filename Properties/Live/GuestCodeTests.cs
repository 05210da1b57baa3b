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
        Assert.Superset(new HashSet<Mnemonic> { Mnemonic.Cpuid, Mnemonic.Xsetbv, Mnemonic.Wrmsr, Mnemonic.Rdmsr, Mnemonic.Monitor, Mnemonic.Mwait, Mnemonic.Out }, mnemonics);
        Assert.Contains(code, i => i.Code == Code.Monitorw); // 16-bit code: MONITOR reads DS:AX
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
    public void Real_mode_RSM_first_rewrites_the_command_to_Nop()
    {
        var code = Decode([.. Image.RealMode.Items], 16, GuestLayout.RealModeCode);
        var i = code.FindIndex(x => x.Mnemonic == Mnemonic.Rsm);
        Assert.True(i > 0);
        Assert.Single(code, x => x.Mnemonic == Mnemonic.Rsm);
        var store = code[i - 1];
        Assert.Equal(Mnemonic.Mov, store.Mnemonic);
        Assert.Equal(Register.SI, store.MemoryBase);
        Assert.Equal((ulong)GuestLayout.OpOffset, store.MemoryDisplacement64);
        Assert.Equal(MemorySize.UInt32, store.MemorySize);
        Assert.Equal((ulong)GuestOp.Nop, store.GetImmediate(1));
    }

    [Fact]
    public void SMM_entry_stub_reloads_the_real_mode_IDTR_and_far_jumps_to_the_real_mode_interpreter()
    {
        var stub = GuestCode.SmmEntryStub(Image.RealModeEntry);
        var code = Decode([.. stub.Items], 16, GuestLayout.SmmEntryOffset);
        Assert.Equal(2, code.Count);
        Assert.Equal(Mnemonic.Lidt, code[0].Mnemonic);
        Assert.Equal(Register.None, code[0].MemoryBase);
        Assert.Equal((ulong)GuestLayout.RealModeIdtr, code[0].MemoryDisplacement64);
        Assert.Equal(Code.Jmp_ptr1616, code[1].Code);
        Assert.Equal(0, code[1].FarBranchSelector);
        Assert.Equal((uint)Image.RealModeEntry, code[1].FarBranch16);
        Assert.Equal(GuestLayout.SmBase + GuestLayout.SmmEntryOffset, GuestLayout.SmmEntry);
        Assert.True(GuestLayout.SmmStateSave + 512 <= LiveVm.DefaultMemorySize); // the state-save area is guest memory
        Assert.True(GuestLayout.SmmEntry + stub.Count <= GuestLayout.SmmStateSave);
    }

    [Fact]
    public void Reset_vector_stub_reports_on_its_own_port_and_stays_inside_the_last_16_bytes_below_4_GiB()
    {
        var stub = GuestCode.ResetVectorStub();
        var code = Decode([.. stub.Items], 16, GuestLayout.ResetVectorOffset);
        Assert.Equal([Mnemonic.Mov, Mnemonic.Out, Mnemonic.Jmp], code.Select(i => i.Mnemonic));
        Assert.Equal(Register.DX, code[0].Op0Register);
        Assert.Equal((ulong)GuestLayout.ResetVectorPort, code[0].GetImmediate(1));
        Assert.Equal(Register.DX, code[1].Op0Register);
        Assert.Equal((ulong)GuestLayout.ResetVectorOffset, code[2].NearBranchTarget); // if ever resumed, it reports again
        Assert.True(GuestLayout.ResetVectorOffset + stub.Count <= 0x1000); // the code ends before the page (and 4 GiB) does
        // INIT leaves CS base 0xFFFF_0000 and IP 0xFFF0: the stub's GPA is in the mapped page, whose alias is guest memory.
        Assert.Equal(0xFFFF_0000ul + 0xFFF0, (ulong)GuestLayout.ResetVectorPage + GuestLayout.ResetVectorOffset);
        Assert.Equal(LiveVm.DefaultMemorySize - 0x1000, GuestLayout.ResetVectorAlias);
        Assert.NotEqual(GuestLayout.ResetVectorPort, GuestLayout.DonePort);
        Assert.NotEqual(GuestLayout.ResetVectorPort, GuestLayout.FaultPort);
    }

    [Fact]
    public void Protected_mode_handlers_drop_error_codes_and_end_the_command_by_OUT_without_IRET()
    {
        var code = Decode([.. Image.ProtectedMode.Items], 32, GuestLayout.ProtectedModeCode);
        Assert.DoesNotContain(code, i => i.Code == Code.INVALID);
        Assert.Equal((ulong)GuestLayout.ProtectedModeCode, Image.ProtectedModeEntry); // the loop is the entry
        Assert.Contains(code, i => i.Mnemonic == Mnemonic.Cpuid);
        Assert.Contains(code, i => i.Mnemonic == Mnemonic.Rsm); // #UD: SMM never runs this interpreter
        Assert.Contains(code, i => i.Code == Code.Monitord); // #UD at CPL3 before any intercept
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
