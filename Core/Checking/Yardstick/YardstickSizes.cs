namespace CpuidFunctional.Core.Checking.Yardstick;

/// <summary>
/// The sizes the yardstick's 16 XCR0 masks give, and their classes: masks with equal (standard, compacted) sizes
/// share a class, because the tables store sizes, not masks (0x1 and 0x3 both give 576/576).
/// </summary>
public sealed class YardstickSizes
{
    private readonly uint[] standard;
    private readonly uint[] compacted;
    private readonly byte[] classOf;

    internal YardstickSizes(Host.XsaveLayout layout, IReadOnlyList<ulong> masks)
    {
        standard = new uint[masks.Count];
        compacted = new uint[masks.Count];
        classOf = new byte[masks.Count];
        for (var i = 0; i < masks.Count; i++)
        {
            // xstate_required_size(xcr0, false) and (xcr0, true): the 6.15 profile ignores IA32_XSS.
            standard[i] = layout.RequiredSize(masks[i], compacted: false);
            compacted[i] = layout.RequiredSize(masks[i], compacted: true);
            var first = i;
            for (var j = 0; j < i; j++)
            {
                if (standard[j] == standard[i] && compacted[j] == compacted[i])
                {
                    first = j;
                    break;
                }
            }
            classOf[i] = (byte)first;
        }
    }

    /// <summary>The size class of mask index i (the lowest index with the same two sizes).</summary>
    public int ClassOf(int index) => classOf[index];

    /// <summary>CPUID.0xD.0:EBX for a class.</summary>
    public uint Standard(int sizeClass) => standard[sizeClass];

    /// <summary>CPUID.0xD.1:EBX for a class.</summary>
    public uint Compacted(int sizeClass) => compacted[sizeClass];
}
