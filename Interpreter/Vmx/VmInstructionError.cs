namespace CpuidFunctional.Interpreter.Vmx;

/// <summary>VM-instruction error numbers of VMfailValid (SDM Vol. 3, 31.4), the ones the interpreter raises.</summary>
public enum VmInstructionError
{
    /// <summary>No error (never reported).</summary>
    None = 0,

    /// <summary>VMCALL executed in VMX root operation.</summary>
    VmcallInRoot = 1,

    /// <summary>VMCLEAR with invalid physical address.</summary>
    VmclearInvalidAddress = 2,

    /// <summary>VMCLEAR with VMXON pointer.</summary>
    VmclearVmxonPointer = 3,

    /// <summary>VMLAUNCH with non-clear VMCS.</summary>
    VmlaunchNonClear = 4,

    /// <summary>VMRESUME with non-launched VMCS.</summary>
    VmresumeNonLaunched = 5,

    /// <summary>VM entry with invalid control field(s).</summary>
    EntryInvalidControls = 7,

    /// <summary>VM entry with invalid host-state field(s).</summary>
    EntryInvalidHostState = 8,

    /// <summary>VMPTRLD with invalid physical address.</summary>
    VmptrldInvalidAddress = 9,

    /// <summary>VMPTRLD with VMXON pointer.</summary>
    VmptrldVmxonPointer = 10,

    /// <summary>VMPTRLD with incorrect VMCS revision identifier.</summary>
    VmptrldIncorrectRevision = 11,

    /// <summary>VMREAD/VMWRITE from/to unsupported VMCS component.</summary>
    UnsupportedComponent = 12,

    /// <summary>VMWRITE to read-only VMCS component.</summary>
    VmwriteReadOnly = 13,

    /// <summary>VMXON executed in VMX root operation.</summary>
    VmxonInRoot = 15,
}
