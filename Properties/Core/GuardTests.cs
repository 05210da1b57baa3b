using System.Reflection;
using CpuidFunctional.Core.Dynamic;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace CpuidFunctional.Properties.Core;

/// <summary>
/// Spec §5: code may not ask the guest-capability API for a dynamic feature. KVM enforces it with a compile-time
/// assertion in guest_cpu_cap_has(); here the feature set is closed, and these tests compile real snippets against
/// Core to show that APIC, OSXSAVE and OSPKE cannot be asked for while MWAIT and static features can.
/// </summary>
public class GuardTests
{
    // Loaded once: the core library, System.Runtime and the Core assembly are all a probe needs.
    private static readonly MetadataReference[] References =
    [
        .. ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!)
            .Split(Path.PathSeparator)
            .Where(path => Path.GetFileName(path) is "System.Private.CoreLib.dll" or "System.Runtime.dll" or "System.Collections.Immutable.dll")
            .Append(typeof(GuestCpuCaps).Assembly.Location)
            .Select(path => MetadataReference.CreateFromFile(path)),
    ];

    private static IReadOnlyList<Diagnostic> Compile(string body)
    {
        var source = $$"""
            using CpuidFunctional.Core.State;
            using CpuidFunctional.Core.Dynamic;
            static class Probe
            {
                static bool Ask(Vcpu v) => {{body}};
            }
            """;
        var compilation = CSharpCompilation.Create(
            "GuardProbe",
            [CSharpSyntaxTree.ParseText(source)],
            References,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary)
        );
        return [.. compilation.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error)];
    }

    [Theory]
    [InlineData("Apic")]
    [InlineData("OsXsave")]
    [InlineData("OsPke")]
    [InlineData("APIC")]
    [InlineData("OSXSAVE")]
    [InlineData("OSPKE")]
    public void Asking_for_a_dynamic_feature_does_not_compile(string feature)
    {
        var errors = Compile($"GuestCpuCaps.Has(v, GuestFeature.{feature})");
        Assert.Contains(errors, e => e.Id == "CS0117"); // 'GuestFeature' does not contain a definition for ...
    }

    [Fact]
    public void A_dynamic_feature_cannot_be_constructed_either()
    {
        var errors = Compile("""GuestCpuCaps.Has(v, new GuestFeature("APIC", 1, 0, CpuidFunctional.Core.Cpuid.CpuidRegister.Edx, 9))""");
        // The constructor is private: CS1729 (no accessible constructor with these arguments) or CS0122.
        Assert.Contains(errors, e => e.Id is "CS1729" or "CS0122");
    }

    [Theory]
    [InlineData("Mwait")]
    [InlineData("Xsave")]
    [InlineData("Pku")]
    [InlineData("Xsaves")]
    public void Asking_for_MWAIT_or_a_static_feature_compiles(string feature)
    {
        Assert.Empty(Compile($"GuestCpuCaps.Has(v, GuestFeature.{feature})"));
    }

    [Fact]
    public void The_feature_set_is_closed_and_names_no_dynamic_bit()
    {
        var type = typeof(GuestFeature);
        Assert.True(type.IsSealed);
        Assert.DoesNotContain(type.GetConstructors(BindingFlags.Public | BindingFlags.Instance), _ => true);
        var names = type.GetProperties(BindingFlags.Public | BindingFlags.Static)
            .Where(p => p.PropertyType == type)
            .Select(p => ((GuestFeature)p.GetValue(null)!).Name)
            .ToHashSet(StringComparer.OrdinalIgnoreCase);
        Assert.Contains("MWAIT", names);
        Assert.DoesNotContain("APIC", names);
        Assert.DoesNotContain("OSXSAVE", names);
        Assert.DoesNotContain("OSPKE", names);
        Assert.Equal(names.Count, GuestFeature.All.Count);
    }

    [Fact]
    public void Every_feature_has_its_own_written_out_bit_and_is_listed_in_All()
    {
        var declared = typeof(GuestFeature).GetProperties(BindingFlags.Public | BindingFlags.Static)
            .Where(p => p.PropertyType == typeof(GuestFeature))
            .Select(p => (GuestFeature)p.GetValue(null)!)
            .ToList();
        Assert.Equal(declared.Count, declared.Select(f => f.Mask).Distinct().Count());
        Assert.All(declared, f => Assert.Equal(1, System.Numerics.BitOperations.PopCount(f.Mask)));
        Assert.Equal(declared.OrderBy(f => f.Mask).Select(f => f.Name), GuestFeature.All.OrderBy(f => f.Mask).Select(f => f.Name));
    }
}
