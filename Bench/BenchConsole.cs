namespace CpuidFunctional.Bench;

/// <summary>Entry point.</summary>
internal static class BenchConsole
{
    public static int Main(string[] args) => args.Length;
}
