namespace CpuidFunctional.Core.Host;

/// <summary>A built-in host made from a real CPUID dump, with the OS state the dump was taken in.</summary>
/// <param name="Name">The preset's short name (<c>skylake-sp</c>, ...).</param>
/// <param name="Host">The host parsed from the dump; its <see cref="HostCpu.Name"/> is <paramref name="Name"/>.</param>
/// <param name="DumpXcr0">
/// XCR0 the dumping OS had enabled: the value whose sizes match the dump's CPUID.0xD.0:EBX and 0xD.1:EBX (inferred,
/// see shared/data/cpuid-dumps/README.md).
/// </param>
/// <param name="DumpXss">IA32_XSS the dumping OS had enabled (inferred the same way).</param>
/// <param name="Description">The processor and where the dump comes from.</param>
public sealed record HostPreset(string Name, HostCpu Host, ulong DumpXcr0, ulong DumpXss, string Description);
