namespace CpuidFunctional.Core.Checking.Internal;

/// <summary>Takes the successors of one state as a model's <see cref="IExpansion{TState, TEvent, TObservation}.StepAll"/> finds them.</summary>
internal interface ISuccessorVisitor<TState, TObservation>
{
    /// <summary>An enabled event (by alphabet position) and what it did; false stops the expansion of this state.</summary>
    bool Visit(int e, in TState next, in TObservation observation);
}

/// <summary>
/// A model the search expands a whole state at a time: <see cref="StepAll"/> hands every enabled event's successor to
/// a visitor in alphabet order, exactly as <see cref="ITransitionSystem{TState, TEvent, TObservation}.TryStep"/> would
/// give them one event after the other. A model that steps all events before it hands any over can start the memory
/// reads of every successor before it waits for one (<see cref="MemoizedProduct"/>); any other model is expanded
/// through <see cref="OneEventAtATime{TState, TEvent, TObservation, TSystem}"/>.
/// </summary>
internal interface IExpansion<TState, TEvent, TObservation> : ITransitionSystem<TState, TEvent, TObservation>
    where TState : IEquatable<TState>
{
    /// <summary>Hands each enabled event's successor of a state to the visitor, in alphabet order, until it says stop.</summary>
    /// <returns>
    /// A value folded from the memory reads made early to overlap their cache misses: meaningless, but the caller keeps
    /// it (as the search keeps its own early reads), so that the compiler cannot drop the reads.
    /// </returns>
    int StepAll<TVisitor>(in TState state, ref TVisitor visitor)
        where TVisitor : ISuccessorVisitor<TState, TObservation>, allows ref struct;
}

/// <summary>The expansion of any model: <see cref="ITransitionSystem{TState, TEvent, TObservation}.TryStep"/> for one event after the other.</summary>
internal readonly struct OneEventAtATime<TState, TEvent, TObservation, TSystem>(TSystem system) : IExpansion<TState, TEvent, TObservation>
    where TState : IEquatable<TState>
    where TSystem : ITransitionSystem<TState, TEvent, TObservation>
{
    private readonly TEvent[] alphabet = [.. system.Alphabet];

    public TState Initial => system.Initial;

    public IReadOnlyList<TEvent> Alphabet => system.Alphabet;

    public bool TryStep(in TState state, TEvent e, out TState next, out TObservation observation) => system.TryStep(in state, e, out next, out observation);

    public string? Violation(in TState next, in TObservation observation) => system.Violation(in next, in observation);

    public int StepAll<TVisitor>(in TState state, ref TVisitor visitor)
        where TVisitor : ISuccessorVisitor<TState, TObservation>, allows ref struct
    {
        for (var e = 0; e < alphabet.Length; e++)
        {
            if (system.TryStep(in state, alphabet[e], out var next, out var observation) && !visitor.Visit(e, in next, in observation))
            {
                break;
            }
        }
        return 0;
    }
}
