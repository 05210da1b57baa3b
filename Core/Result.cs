using System.Diagnostics;
using CpuidFunctional.Core.Host;

namespace CpuidFunctional.Core;

/// <summary>A value or a parse error: bad input is data, never an exception.</summary>
/// <typeparam name="T">The value's type.</typeparam>
public abstract record Result<T>
{
    private Result() { }

    /// <summary>Success.</summary>
    public sealed record Ok(T Value) : Result<T>;

    /// <summary>Failure, with where and why.</summary>
    public sealed record Error(ParseError Problem) : Result<T>;

    /// <summary>The value, or the fallback from the error.</summary>
    public T Match(Func<ParseError, T> onError) => this switch
    {
        Ok ok => ok.Value,
        Error e => onError(e.Problem),
        _ => throw new UnreachableException(),
    };

    /// <summary>Maps the value, keeping an error as it is.</summary>
    public Result<TOut> Select<TOut>(Func<T, TOut> map) => this switch
    {
        Ok ok => new Result<TOut>.Ok(map(ok.Value)),
        Error e => new Result<TOut>.Error(e.Problem),
        _ => throw new UnreachableException(),
    };
}
