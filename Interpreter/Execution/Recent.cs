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
        // Newest first: from the slot before next down to 0, then from the end down to next (no division per slot).
        for (var i = next - 1; i >= 0; i--)
        {
            if (made[i] is { } m && matches(m, key))
            {
                return m;
            }
        }
        for (var i = made.Length - 1; i >= next; i--)
        {
            if (made[i] is { } m && matches(m, key))
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
