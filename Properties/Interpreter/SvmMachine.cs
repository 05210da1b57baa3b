using CpuidFunctional.Interpreter.Machine;

namespace CpuidFunctional.Properties.Interpreter;

/// <summary>
/// An AMD guest for the nested SVM programs (vendor AuthenticAMD, SVM in 0x80000001:ECX, XSAVE, PKU) under the 6.1
/// profile; the SVM programs build on <see cref="SvmHarness"/>.
/// </summary>
internal static class SvmMachine
{
    public static CpuidTable Table { get; } = CpuidTable.Of(
        CpuidEntry.Plain(0, 0xD, Vendor.Amd.Ebx, Vendor.Amd.Ecx, Vendor.Amd.Edx),
        CpuidEntry.Plain(1, 0xA10F11, 0x0010_0800, (1u << 0) | (1u << 26), (1u << 0) | (1u << 9) | (1u << 25) | (1u << 26)),
        CpuidEntry.Indexed(7, 0, 0, (1u << 7) | (1u << 20), 1u << 3, 0), // SMEP, SMAP; PKU
        CpuidEntry.Indexed(0xD, 0, 0x207, 0x240, 0xA88, 0),
        CpuidEntry.Indexed(0xD, 1, 0xF, 0x240, 0, 0),
        CpuidEntry.Indexed(0xD, 2, 0x100, 0x240, 0, 0),
        CpuidEntry.Indexed(0xD, 9, 0x8, 0xA80, 0, 0),
        CpuidEntry.Plain(0x8000_0000, 0x8000_000A, Vendor.Amd.Ebx, Vendor.Amd.Ecx, Vendor.Amd.Edx),
        CpuidEntry.Plain(0x8000_0001, 0, 0, 1u << 2, 1u << 29), // SVM; LM (64-bit guests: EFER.LME and LMA are theirs to keep)
        CpuidEntry.Plain(0x8000_0008, 0x3030, 0, 0, 0),
        CpuidEntry.Plain(0x8000_000A, 1, 0x8000, 0, 1u << 3) // SVM revision 1, 32768 ASIDs, NRIPS
    );

    public static Vm Vm { get; } = new(HostCpu.FromCpuid("test-zen", Table), KernelProfile.Linux6_1);

    public static Machine Boot(Program program, Policy policy) => Machine.Boot(program, KvmState.WithCpuid(Vm, policy, Table));

    /// <summary>Runs under Eager, Lazy and Reference, asserts they agree, returns the Eager run.</summary>
    public static RunResult RunAgreeing(Program program, long maxSteps = TestMachine.DefaultSteps)
    {
        var agreement = Runner.RunAll(Policy.Correct, p => Boot(program, p), maxSteps);
        Assert.True(agreement.Agree, agreement.FirstDifference);
        return agreement.Runs[0].Result;
    }
}
