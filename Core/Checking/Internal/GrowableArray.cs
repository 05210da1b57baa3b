namespace CpuidFunctional.Core.Checking.Internal;

/// <summary>An append-only buffer reused across levels (cleared, never shrunk) so a search allocates per level, not per transition.</summary>
internal sealed class GrowableArray<T>
{
    public T[] Items = new T[16]; // mutable on purpose: the owner thread appends; readers run only after a barrier
    public int Count;

    public void Add(in T item)
    {
        if (Count == Items.Length)
        {
            Array.Resize(ref Items, Items.Length * 2);
        }
        Items[Count++] = item;
    }

    public void Clear() => Count = 0;

    public void EnsureCapacity(int capacity)
    {
        if (Items.Length < capacity)
        {
            Array.Resize(ref Items, Math.Max(capacity, Items.Length * 2));
        }
    }
}
