using System.Runtime.CompilerServices;

namespace CpuidFunctional.Interpreter;

/// <summary>Inline references to vmcs12's 16 chunks (one per width/type pair); a null chunk is all zero.</summary>
[InlineArray(VmcsField.ChunkCount)]
internal struct VmcsChunks
{
    private ulong[]? element0;
}
