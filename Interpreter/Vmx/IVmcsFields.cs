namespace CpuidFunctional.Interpreter.Vmx;

/// <summary>
/// A vmcs12 as the nested checks read it: the functional interpreter's immutable <see cref="Vmcs12"/> and the mutable
/// baseline's in-place one, so that a check written once (<c>Nested.HostSegmentsValid</c>) serves both.
/// </summary>
internal interface IVmcsFields
{
    /// <summary>A field's value (0 for an encoding the model does not hold).</summary>
    ulong Read(uint encoding);
}
