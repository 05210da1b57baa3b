namespace CpuidFunctional.Interpreter.Execution;

/// <summary>
/// The most recent instances of a kind that a run made (<paramref name="capacity"/> of them), for reuse by value
/// (<see cref="EventCache"/>, <see cref="VmcsVersions"/>): more than one, so that a cycle through a few values still
/// finds each. Run-local working memory, outside every state record.
/// </summary>
internal sealed class Recent<T>(int capacity = 2)
    where T : class
{
    // Mutable: the instances made last, in a ring; null where none yet.
    private readonly T?[] made = new T?[capacity];

    // Mutable: the slot the next instance goes to.
    private int next;

    /// <summary>The most recent instance that matches the key, or null.</summary>
    public T? Find<TKey>(TKey key, Func<T, TKey, bool> matches)
        where TKey : allows ref struct
    {
        for (var k = 1; k <= made.Length; k++)
        {
            if (made[(next - k + made.Length) % made.Length] is { } m && matches(m, key))
            {
                return m;
            }
        }
        return null;
    }

    /// <summary>Remembers an instance in place of the oldest, and returns it.</summary>
    public T Remember(T instance)
    {
        made[next] = instance;
        next = (next + 1) % made.Length;
        return instance;
    }
}
