namespace CpuidFunctional.Interpreter.Machine;

/// <summary>Array helpers of the persistent structures (guest memory, vmcs12).</summary>
internal static class Arrays
{
    /// <summary>
    /// A fresh array with the same elements. <c>Array.Clone</c> goes through <c>Object.MemberwiseClone</c>, whose slow
    /// path cost a third of an SVM round trip's time in perf; this allocates and copies directly.
    /// </summary>
    public static T[] Copied<T>(T[] source)
    {
        var copy = new T[source.Length];
        source.AsSpan().CopyTo(copy);
        return copy;
    }
}
