namespace CpuidFunctional.Core.State;

/// <summary>
/// What L0 keeps while L2 runs that the vendor's nested code needs (<see cref="Vcpu.Nested"/>): the cached vmcb12
/// intercepts and L1's CR4 under SVM, or vmcs12's CR4 ownership under VMX. One field for both vendors, since a vCPU is
/// only ever one of them: a <see cref="Vcpu"/> copy stays 56 bytes.
/// </summary>
public abstract record NestedState;
