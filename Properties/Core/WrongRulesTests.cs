using System.Reflection;
using CpuidFunctional.Core.Checking;

namespace CpuidFunctional.Properties.Core;

/// <summary>The wrong variants the teeth tests use are KVM's rules with exactly one rule replaced.</summary>
public class WrongRulesTests
{
    private static readonly PropertyInfo[] Rules = typeof(KvmRules)
        .GetProperties(BindingFlags.Public | BindingFlags.Instance)
        .Where(p => p.Name != nameof(KvmRules.Name) && p.Name != "EqualityContract")
        .ToArray();

    public static TheoryData<string> Names => [.. WrongRules.All.Select(r => r.Name)];

    [Theory]
    [MemberData(nameof(Names))]
    public void Each_variant_replaces_exactly_one_of_KVMs_rules(string name)
    {
        var variant = WrongRules.Named(name)!;
        var replaced = Rules.Where(p => !Equals(p.GetValue(variant), p.GetValue(KvmRules.Kvm))).Select(p => p.Name).ToList();
        Assert.True(replaced.Count == 1, $"{name} replaces {replaced.Count} rules: {string.Join(", ", replaced)}");
    }

    [Fact]
    public void Variants_have_distinct_names_and_are_found_by_name_in_any_case()
    {
        Assert.Equal(WrongRules.All.Count, WrongRules.All.Select(r => r.Name).Distinct(StringComparer.OrdinalIgnoreCase).Count());
        Assert.All(WrongRules.All, r => Assert.Same(r, WrongRules.Named(r.Name.ToUpperInvariant())));
        Assert.Null(WrongRules.Named("KVM"));
        Assert.Null(WrongRules.Named(""));
    }

    [Fact]
    public void A_policy_with_KVMs_rules_equals_the_plain_scheme_and_prints_without_a_variant()
    {
        Assert.Equal(Policy.Lazy, new Policy(UpdateScheme.Lazy, KvmRules.Kvm));
        Assert.Equal("lazy", new Policy(UpdateScheme.Lazy, KvmRules.Kvm).ToString());
        Assert.Equal("lazy+SmiNotTrigger", new Policy(UpdateScheme.Lazy, WrongRules.SmiNotTrigger).ToString());
        Assert.NotEqual(Policy.Lazy, new Policy(UpdateScheme.Lazy, WrongRules.SmiNotTrigger));
    }
}
