namespace CpuidFunctional.Interpreter.Vmx;

/// <summary>The guest activity states of the VMCS's GUEST_ACTIVITY_STATE field (SDM Vol. 3, 25.4.2) that KVM accepts.</summary>
public static class ActivityState
{
    /// <summary>Active: the logical processor executes instructions.</summary>
    public const ulong Active = 0;

    /// <summary>HLT: as after HLT.</summary>
    public const ulong Hlt = 1;

    /// <summary>Wait-for-SIPI: as after INIT, until a SIPI.</summary>
    public const ulong WaitForSipi = 3;
}
