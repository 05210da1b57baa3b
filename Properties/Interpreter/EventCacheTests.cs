using CpuidFunctional.Interpreter.Execution;

namespace CpuidFunctional.Properties.Interpreter;

/// <summary>
/// A run hands out the Core event it made last when the same values come again (a loop's VMRUN with the same vmcb12
/// save.cr4 and intercepts), and a new one when any value differs; both compare equal to a freshly made event.
/// </summary>
public class EventCacheTests
{
    [Fact]
    public void A_vmrun_with_the_same_save_cr4_and_intercepts_gets_the_event_made_before()
    {
        var events = new EventCache();
        var first = events.NestedSvmVmrun(0x2020, Vmcb12Intercepts.Cpuid);
        Assert.Same(first, events.NestedSvmVmrun(0x2020, Vmcb12Intercepts.Cpuid));
        Assert.Equal(new VcpuEvent.NestedSvmVmrun(0x2020, Vmcb12Intercepts.Cpuid), first);
    }

    [Fact]
    public void A_vmrun_with_another_save_cr4_or_other_intercepts_gets_its_own_event()
    {
        var events = new EventCache();
        var first = events.NestedSvmVmrun(0x2020, Vmcb12Intercepts.Cpuid);
        Assert.Equal(0x2060ul, events.NestedSvmVmrun(0x2060, Vmcb12Intercepts.Cpuid).SaveCr4);
        Assert.Equal(Vmcb12Intercepts.Xsetbv, events.NestedSvmVmrun(0x2020, Vmcb12Intercepts.Xsetbv).Intercepts);
        Assert.NotSame(first, events.NestedSvmVmrun(0x2020, Vmcb12Intercepts.Xsetbv));
    }
}
