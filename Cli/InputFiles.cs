using System.Text;

namespace CpuidFunctional.Cli;

/// <summary>
/// The one way <c>cpuidf</c> reads an input file: at most a limit plus one byte, so a device like
/// <c>/dev/zero</c> or a huge file is refused instead of filling memory. A file that yields more bytes than its
/// size says (a device, a pipe, a <c>/proc</c> file) is not a regular file and is refused too. Problems surface as
/// <see cref="IOException"/> whose message says what is wrong, so every caller's "cannot read the file" path reports them.
/// </summary>
public static class InputFiles
{
    /// <summary>The largest dump or scenario file read (a <c>cpuid -r</c> dump of a 512-CPU host is a few MB).</summary>
    public const int MaxTextBytes = 64 << 20;

    /// <summary>The bytes of the file at <paramref name="path"/>, if it is a regular file of at most <paramref name="limit"/> bytes.</summary>
    public static byte[] ReadBytes(string path, int limit)
    {
        if (Directory.Exists(path))
        {
            throw new IOException("a directory, not a file");
        }
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 0);
        var declared = stream.Length;
        if (declared > limit)
        {
            throw new IOException($"the file has {declared} bytes, more than the {limit} accepted");
        }
        // One byte more than the size the file system reports: a regular file never fills it.
        var buffer = new byte[declared + 1];
        var read = 0;
        while (read < buffer.Length && stream.Read(buffer, read, buffer.Length - read) is var n and > 0)
        {
            read += n;
        }
        if (read > declared)
        {
            throw new IOException($"not a regular file (its size is {declared} bytes but it yields more: a device, pipe or pseudo-file?)");
        }
        return buffer[..read];
    }

    /// <summary>The text of a regular file of at most <see cref="MaxTextBytes"/> bytes (UTF-8 unless it has another byte order mark).</summary>
    public static string ReadText(string path)
    {
        using var reader = new StreamReader(new MemoryStream(ReadBytes(path, MaxTextBytes)), Encoding.UTF8, detectEncodingFromByteOrderMarks: true);
        return reader.ReadToEnd();
    }
}
