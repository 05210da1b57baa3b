using Iced.Intel;

namespace CpuidFunctional.Interpreter.Decoding;

/// <summary>Iced's byte source: the (at most 15) bytes copied from guest memory at the RIP being decoded.</summary>
internal sealed class ByteBufferReader : CodeReader
{
    // Refilled before every decode; only the decoder adapter, which owns this reader, touches it.
    private readonly byte[] buffer = new byte[15];
    private int count;
    private int position;

    public Span<byte> Buffer => buffer;

    public void Reset(int available)
    {
        count = available;
        position = 0;
    }

    public override int ReadByte() => position < count ? buffer[position++] : -1;
}
