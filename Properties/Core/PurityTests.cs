using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using static CpuidFunctional.Properties.Core.TestHosts;

namespace CpuidFunctional.Properties.Core;

/// <summary>
/// Core is pure: no I/O, clocks, randomness or console. (Mutation runs leave this class out: Stryker's instrumentation
/// adds exactly such references; what unchanged writes return is in <see cref="UnchangedInstanceTests"/>.)
/// </summary>
public class PurityTests
{
    [Fact]
    public void Core_references_no_IO_clock_randomness_console_or_environment_type()
    {
        using var stream = File.OpenRead(typeof(Kvm).Assembly.Location);
        using var pe = new PEReader(stream);
        var reader = pe.GetMetadataReader();
        var referenced = reader.TypeReferences
            .Select(h => reader.GetTypeReference(h))
            .Select(t => $"{reader.GetString(t.Namespace)}.{reader.GetString(t.Name)}")
            .ToList();
        string[] forbidden = ["System.IO.", "System.Random", "System.DateTime", "System.Diagnostics.Stopwatch", "System.Console", "System.Environment", "System.Threading.Thread", "System.Net."];
        var hits = referenced.Where(r => forbidden.Any(f => r.StartsWith(f, StringComparison.Ordinal))).ToList();
        Assert.True(hits.Count == 0, "Core references: " + string.Join(", ", hits));
    }
}
