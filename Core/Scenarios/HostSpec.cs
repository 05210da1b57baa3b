namespace CpuidFunctional.Core.Scenarios;

/// <summary>Which host a scenario runs on: a built-in preset or a dump file the shell reads (Core does no I/O).</summary>
public abstract record HostSpec
{
    private HostSpec() { }

    /// <summary>A built-in preset by name (<c>skylake-sp</c>, ...).</summary>
    public sealed record Preset(string Name) : HostSpec
    {
        /// <inheritdoc/>
        public override string ToString() => Name;
    }

    /// <summary>A CPUID dump file (AIDA64 or <c>cpuid -r</c> text), relative to the scenario file's folder.</summary>
    public sealed record Dump(string Path) : HostSpec
    {
        /// <inheritdoc/>
        public override string ToString() => "dump " + Path;
    }
}
