namespace CpuidFunctional.Core.Checking.Internal;

/// <summary>
/// The search's way back from a state to the initial one: for each state id, its parent's id and the alphabet
/// position that led to it. Stored one pair of exact-length arrays per level, because a level's ids are consecutive:
/// the yardstick's 4,756,480 states take 38 MB, where arrays doubled as the search grew held 64 MB and had copied
/// 32 MB more on the way. Only a counterexample reads them back (<see cref="this[int]"/>).
/// </summary>
internal sealed class ParentLinks
{
    private readonly List<int> firstIds = [];
    private readonly List<int[]> parents = [];
    private readonly List<int[]> events = [];

    /// <summary>Adds the level of states <paramref name="firstId"/> to <paramref name="firstId"/> + <paramref name="count"/> − 1; the caller fills the arrays it returns.</summary>
    public (int[] Parents, int[] Events) AddLevel(int firstId, int count)
    {
        var level = (new int[count], new int[count]);
        firstIds.Add(firstId);
        parents.Add(level.Item1);
        events.Add(level.Item2);
        return level;
    }

    /// <summary>The parent's id (−1 for the initial state) and the alphabet position that led to state <paramref name="id"/>.</summary>
    public (int Parent, int Event) this[int id]
    {
        get
        {
            var at = firstIds.BinarySearch(id);
            var level = at >= 0 ? at : ~at - 1;
            var offset = id - firstIds[level];
            return (parents[level][offset], events[level][offset]);
        }
    }
}
