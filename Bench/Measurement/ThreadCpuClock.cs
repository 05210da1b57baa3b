using System.Runtime.InteropServices;

namespace CpuidFunctional.Bench.Measurement;

/// <summary>
/// CPU time of the calling thread (Linux <c>clock_gettime(CLOCK_THREAD_CPUTIME_ID)</c>). On a shared machine a
/// wall-clock Stopwatch also counts the time the thread waited for a core; this clock does not. NaN where unavailable.
/// </summary>
internal static partial class ThreadCpuClock
{
    private const int ClockThreadCputimeId = 3;

    [StructLayout(LayoutKind.Sequential)]
    private struct Timespec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [LibraryImport("libc", EntryPoint = "clock_gettime")]
    private static partial int ClockGetTime(int clock, out Timespec time);

    /// <summary>Nanoseconds of CPU this thread has used, or NaN off Linux.</summary>
    public static double Now()
    {
        if (!OperatingSystem.IsLinux())
        {
            return double.NaN;
        }
        return ClockGetTime(ClockThreadCputimeId, out var t) == 0 ? (t.Seconds * 1e9) + t.Nanoseconds : double.NaN;
    }
}
