namespace CpuidFunctional.Core.Cpuid;

/// <summary>
/// One output register of one table entry set to a value: what <c>kvm_update_cpuid_runtime</c> does to an entry it
/// found (<c>best->ebx = xstate_required_size(...)</c>). Applied by <see cref="CpuidTable.WithOutputs"/>.
/// </summary>
/// <param name="Position">The entry's position in the table.</param>
/// <param name="Register">The output register written.</param>
/// <param name="Value">Its new value.</param>
public readonly record struct OutputWrite(int Position, CpuidRegister Register, uint Value);
