using System.Reflection;
using CpuidFunctional.Core.Checking;

namespace CpuidFunctional.Properties.Core;

/// <summary>
/// Core's floors (docs/architecture.md, "Floors"): the model (the root folder, Cpuid/, Host/, State/, Dynamic/,
/// Model/) is the ground floor and uses nothing above it; Checking/ and Scenarios/ stand on it side by side and do
/// not use each other. Read from the compiled assembly, method bodies included.
/// </summary>
public class ArchitectureTests
{
    /// <summary>The ground floor: Core's root namespace ("") and the model's folders.</summary>
    private static readonly string[] ModelFloor = ["", "Cpuid", "Host", "State", "Dynamic", "Model"];

    /// <summary>The floor above the model: libraries that use it and that it must never use.</summary>
    private static readonly string[] LibraryFloor = ["Checking", "Scenarios"];

    private static readonly Assembly Core = typeof(Kvm).Assembly;

    /// <summary>Core's folder of a type (its namespace's first segment below CpuidFunctional.Core), or null outside Core.</summary>
    private static string? FolderOf(Type type) =>
        type.Assembly != Core || type.Namespace is not { } ns ? null
        : ns == "CpuidFunctional.Core" ? ""
        : ns.StartsWith("CpuidFunctional.Core.", StringComparison.Ordinal) ? ns["CpuidFunctional.Core.".Length..].Split('.')[0]
        : null;

    /// <summary>A folder may use the model floor and itself; nothing else of Core.</summary>
    private static bool MayUse(string from, string to) => ModelFloor.Contains(to) || from == to;

    /// <summary>Every reference between Core folders that the floors forbid.</summary>
    private static List<TypeReference> Violations(IEnumerable<Type> types) =>
        [
            .. types
                .Where(t => !t.IsNested && FolderOf(t) is not null)
                .SelectMany(TypeReferences.Of)
                .Where(r => FolderOf(r.Referenced) is { } to && !MayUse(FolderOf(r.Owner)!, to))
                .Distinct(),
        ];

    [Fact]
    public void No_model_type_uses_Checking_or_Scenarios_and_those_two_do_not_use_each_other()
    {
        var violations = Violations(Core.GetTypes());

        Assert.True(violations.Count == 0, "references against the floors:\n" + string.Join('\n', violations));
    }

    [Fact]
    public void Every_namespace_of_Core_is_on_a_floor()
    {
        var folders = Core.GetTypes().Select(FolderOf).OfType<string>().Distinct().Order(StringComparer.Ordinal).ToList();

        var unplaced = folders.Except(ModelFloor.Concat(LibraryFloor)).ToList();
        Assert.True(unplaced.Count == 0, $"Core folders with no floor (add them to {nameof(ArchitectureTests)} and docs/architecture.md): {string.Join(", ", unplaced)}");
        Assert.Equal(ModelFloor.Concat(LibraryFloor).Order(StringComparer.Ordinal), folders);
    }

    [Fact]
    public void Core_references_no_assembly_but_the_runtime()
    {
        var runtime = Path.GetDirectoryName(typeof(object).Assembly.Location);

        var others = Core.GetReferencedAssemblies().Where(a => Path.GetDirectoryName(Assembly.Load(a).Location) != runtime).Select(a => a.Name).ToList();

        Assert.True(others.Count == 0, "Core references: " + string.Join(", ", others));
    }

    /// <summary>Uses ExplorationOptions only inside a lambda, whose body the compiler moves to a nested class.</summary>
    private static class LambdaOnly
    {
        public static Func<int> Depth() => () => ExplorationOptions.Default.MaxDepth;
    }

    [Fact]
    public void The_scan_sees_a_reference_that_only_a_lambda_body_makes()
    {
        var references = TypeReferences.Of(typeof(LambdaOnly)).ToList();

        Assert.Contains(references, r => r.Referenced == typeof(ExplorationOptions) && r.Where.EndsWith("(body)", StringComparison.Ordinal));
        Assert.DoesNotContain(references, r => r.Referenced == typeof(ExplorationOptions) && !r.Where.EndsWith("(body)", StringComparison.Ordinal));
    }
}
