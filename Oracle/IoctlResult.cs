using System.Runtime.InteropServices;
using CpuidFunctional.Oracle.Native;

namespace CpuidFunctional.Oracle;

/// <summary>What an ioctl (or another libc call) gave back: a value, or the call's name and errno. Never thrown.</summary>
/// <typeparam name="T">The value's type.</typeparam>
public abstract record IoctlResult<T>
{
    private IoctlResult() { }

    /// <summary>The call succeeded.</summary>
    /// <param name="Value">Its result.</param>
    public sealed record Ok(T Value) : IoctlResult<T>;

    /// <summary>The call failed.</summary>
    /// <param name="Call">Which call, e.g. <c>KVM_SET_CPUID2</c>.</param>
    /// <param name="Errno">The positive errno.</param>
    public sealed record Failed(string Call, int Errno) : IoctlResult<T>
    {
        /// <inheritdoc/>
        public override string ToString() => $"{Call} failed: errno {Errno} ({Marshal.GetPInvokeErrorMessage(Errno)})";
    }

    /// <summary>Maps the value, keeping a failure.</summary>
    public IoctlResult<TOut> Select<TOut>(Func<T, TOut> map) => this switch
    {
        Ok ok => new IoctlResult<TOut>.Ok(map(ok.Value)),
        Failed f => new IoctlResult<TOut>.Failed(f.Call, f.Errno),
        _ => throw new System.Diagnostics.UnreachableException(),
    };
}

/// <summary>Results of calls that return an int, -1 with errno on failure.</summary>
internal static class IoctlResult
{
    /// <summary>The return code of <paramref name="call"/>, or its errno if negative (read right after the call).</summary>
    public static IoctlResult<int> Of(string call, int rc) => rc < 0 ? new IoctlResult<int>.Failed(call, Libc.Errno) : new IoctlResult<int>.Ok(rc);
}
