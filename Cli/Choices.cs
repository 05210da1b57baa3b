using System.CommandLine;
using CpuidFunctional.Core;
using CpuidFunctional.Core.Checking;
using CpuidFunctional.Core.Host;
using CpuidFunctional.Core.Model;

namespace CpuidFunctional.Cli;

/// <summary>
/// The names options take, one spelling each (docs/cli.md): kernels, policies (kebab-case, as the JSON and the Bench
/// console spell them too) and wrong variants (their <see cref="WrongRules"/> names); and host resolution.
/// </summary>
public static class Choices
{
    /// <summary>The kernel profiles by version.</summary>
    public static NameTable<KernelProfile> Kernels { get; } = new("kernel", [("6.15", KernelProfile.Linux6_15), ("6.18", KernelProfile.Linux6_18)]);

    /// <summary>Policies by name; <c>all</c> stands for the correct ones (<see cref="Policy.Correct"/>), what no <c>--policy</c> selects.</summary>
    public static NameTable<Policy> Policies { get; } =
        new(
            "policy",
            [
                (Policy.Eager.Name, [Policy.Eager]),
                (Policy.Lazy.Name, [Policy.Lazy]),
                (Policy.LazyUnfixed.Name, [Policy.LazyUnfixed]),
                (Policy.Reference.Name, [Policy.Reference]),
                ("all", [.. Policy.Correct]),
            ]
        );

    /// <summary>The deliberately wrong variants of KVM's rules by their <see cref="KvmRules.Name"/>.</summary>
    public static NameTable<KvmRules> Bugs { get; } = new("wrong variant", WrongRules.All.Select(r => (r.Name, r)));

    /// <summary>
    /// The policies with <c>--bug</c>'s wrong rule injected into Lazy (unchanged without one), or null when Lazy is not
    /// among them (the caller reports it).
    /// </summary>
    public static Policy[]? WithBug(Policy[] policies, KvmRules? bug) =>
        bug is null ? policies
        : policies.Contains(Policy.Lazy) ? [.. policies.Select(p => p == Policy.Lazy ? new Policy(UpdateScheme.Lazy, bug) : p)]
        : null;


    /// <summary>Resolves hosts (presets or dump files); on error prints it and returns null with <paramref name="exit"/> set.</summary>
    public static List<HostCpu>? Hosts(CpuidfApp app, IEnumerable<string> names, out int exit)
    {
        exit = ExitCodes.Ok;
        var hosts = new List<HostCpu>();
        foreach (var name in names)
        {
            switch (HostResolver.Resolve(name, InputFiles.ReadText))
            {
                case Result<HostCpu>.Ok(var h):
                    hosts.Add(h);
                    break;
                case Result<HostCpu>.Error(var problem):
                    exit = app.Fail(problem.ToString());
                    return null;
                default:
                    throw new System.Diagnostics.UnreachableException();
            }
        }
        return hosts;
    }

    /// <summary>The <c>--shard I/N</c> option (0-based; <see cref="Shard.Whole"/> when absent).</summary>
    public static Option<Shard> Shard(string description) =>
        new("--shard")
        {
            Description = description,
            HelpName = "I/N",
            DefaultValueFactory = _ => Core.Checking.Shard.Whole,
            CustomParser = r =>
            {
                if (r.Tokens is [var token] && Core.Checking.Shard.Parse(token.Value) is { } shard)
                {
                    return shard;
                }
                r.AddError($"--shard: expected I/N with 0 <= I < N, found '{string.Join(' ', r.Tokens.Select(t => t.Value))}'");
                return Core.Checking.Shard.Whole;
            },
        };
}
