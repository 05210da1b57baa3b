using CpuidFunctional.Core.Checking.Internal;

namespace CpuidFunctional.Core.Checking;

/// <summary>
/// Exhaustive breadth-first exploration of a <see cref="ITransitionSystem{TState, TEvent, TObservation}"/>: every
/// enabled event in every reachable state, a visited set, depth and state bounds, the invariant on every
/// transition, all cores, and the shortest counterexample on a violation. See docs/model-checking.md.
/// </summary>
public static class Explorer
{
    /// <summary>
    /// Explores a model. Pass the model as a struct type argument (<typeparamref name="TSystem"/>) to let the JIT
    /// specialise the search for it; <see cref="Explore{TState, TEvent, TObservation}"/> is the shorter call.
    /// </summary>
    public static ExplorationResult<TState, TEvent, TObservation> Explore<TState, TEvent, TObservation, TSystem>(
        TSystem system,
        ExplorationOptions? options = null,
        CancellationToken cancellationToken = default
    )
        where TState : IEquatable<TState>
        where TSystem : ITransitionSystem<TState, TEvent, TObservation> =>
        new BreadthFirstSearch<TState, TEvent, TObservation, OneEventAtATime<TState, TEvent, TObservation, TSystem>>(
            new(system),
            options ?? ExplorationOptions.Default,
            cancellationToken
        ).Run();

    /// <summary>Explores a model that steps a whole state at a time (<see cref="MemoizedProduct"/>).</summary>
    internal static ExplorationResult<TState, TEvent, TObservation> ExploreAll<TState, TEvent, TObservation, TSystem>(
        TSystem system,
        ExplorationOptions? options,
        CancellationToken cancellationToken
    )
        where TState : IEquatable<TState>
        where TSystem : IExpansion<TState, TEvent, TObservation> =>
        new BreadthFirstSearch<TState, TEvent, TObservation, TSystem>(system, options ?? ExplorationOptions.Default, cancellationToken).Run();

    /// <summary>Explores a model (type arguments inferred from it).</summary>
    public static ExplorationResult<TState, TEvent, TObservation> Explore<TState, TEvent, TObservation>(
        this ITransitionSystem<TState, TEvent, TObservation> system,
        ExplorationOptions? options = null,
        CancellationToken cancellationToken = default
    )
        where TState : IEquatable<TState> =>
        Explore<TState, TEvent, TObservation, ITransitionSystem<TState, TEvent, TObservation>>(system, options, cancellationToken);
}
