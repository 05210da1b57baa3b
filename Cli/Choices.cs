using CpuidFunctional.Core.Checking;
using CpuidFunctional.Core;
using CpuidFunctional.Core.Host;
using CpuidFunctional.Core.Model;

namespace CpuidFunctional.Cli;

/// <summary>The option values shared by <c>exec</c> and <c>random</c>: hosts, kernel profiles, policies and injected bugs.</summary>
internal static class Choices
{
    /// <summary>The correct policies, what <c>--policy all</c> (and no <c>--policy</c>) selects.</summary>
    public static readonly string[] AllPolicies = ["eager", "lazy", "reference"];

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

    /// <summary><c>6.15</c> or <c>6.18</c>; null otherwise.</summary>
    public static KernelProfile? Kernel(string name) => name switch
    {
        "6.15" => KernelProfile.Linux6_15,
        "6.18" => KernelProfile.Linux6_18,
        _ => null,
    };

    /// <summary>The name printed for a profile.</summary>
    public static string KernelName(KernelProfile profile) => profile == KernelProfile.Linux6_15 ? "6.15" : "6.18";

    /// <summary>Policies by name (<c>all</c> = eager, lazy, reference; <c>lazyunfixed</c> or <c>lazy-unfixed</c>), without duplicates; null and <paramref name="unknown"/> set if a name is not known.</summary>
    public static List<Policy>? Policies(IEnumerable<string> names, out string? unknown)
    {
        unknown = null;
        var policies = new List<Policy>();
        foreach (var name in names.SelectMany(n => n.Equals("all", StringComparison.OrdinalIgnoreCase) ? AllPolicies : [n]))
        {
            Policy? policy = name.ToLowerInvariant() switch
            {
                "eager" => Policy.Eager,
                "lazy" => Policy.Lazy,
                "lazyunfixed" or "lazy-unfixed" => Policy.LazyUnfixed,
                "reference" => Policy.Reference,
                _ => null,
            };
            if (policy is not { } known)
            {
                unknown = name;
                return null;
            }
            if (!policies.Contains(known))
            {
                policies.Add(known);
            }
        }
        return policies;
    }

    /// <summary>A wrong variant of KVM's rules (<see cref="WrongRules"/>) by its name (case-insensitive); null if there is none such.</summary>
    public static KvmRules? Bug(string name) => WrongRules.Named(name);

    /// <summary>The variants' names, for error messages and help.</summary>
    public static string BugNames => string.Join(", ", WrongRules.All.Select(r => r.Name));
}
