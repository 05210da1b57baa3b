using CpuidFunctional.Core.Model;
using CpuidFunctional.Interpreter;

namespace CpuidFunctional.Properties.Interpreter;

public class SmokeTests(ITestOutputHelper output)
{
    [Fact]
    public void Cpuid_loop_runs_to_the_vmcall()
    {
        var r = TestMachine.Run(Workloads.CpuidLoop(3), Policy.Lazy);
        output.WriteLine(TestMachine.Describe(r));
        Assert.IsType<StopReason.Halted>(r.Stop);
    }
}
