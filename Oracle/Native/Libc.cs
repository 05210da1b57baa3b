using System.Runtime.InteropServices;

namespace CpuidFunctional.Oracle.Native;

/// <summary>The few libc calls the driver needs. Every call sets errno, which callers read as a value.</summary>
internal static unsafe partial class Libc
{
    public const int O_RDWR = 2;
    public const int O_CLOEXEC = 0x80000;
    public const int PROT_READ = 1;
    public const int PROT_WRITE = 2;
    public const int MAP_SHARED = 1;
    public const int MAP_ANONYMOUS = 0x20;
    public const int EINTR = 4;
    public const int EAGAIN = 11;

    /// <summary>The value mmap returns on failure.</summary>
    public static readonly nint MapFailed = -1;

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);

    // ioctl is variadic; on x86-64 SysV an all-integer call is passed exactly like a fixed three-argument call.
    [LibraryImport("libc", EntryPoint = "ioctl", SetLastError = true)]
    public static partial int Ioctl(int fd, nuint request, void* argument);

    [LibraryImport("libc", EntryPoint = "ioctl", SetLastError = true)]
    public static partial int Ioctl(int fd, nuint request, nuint argument);

    [LibraryImport("libc", EntryPoint = "mmap", SetLastError = true)]
    public static partial nint Mmap(nint address, nuint length, int protection, int flags, int fd, nint offset);

    [LibraryImport("libc", EntryPoint = "munmap", SetLastError = true)]
    public static partial int Munmap(nint address, nuint length);

    /// <summary>errno of the last call above.</summary>
    public static int Errno => Marshal.GetLastPInvokeError();
}
