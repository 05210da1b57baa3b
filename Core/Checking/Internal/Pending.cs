namespace CpuidFunctional.Core.Checking.Internal;

/// <summary>A successor found in the expand phase, waiting for its partition's owner to deduplicate it.</summary>
internal readonly record struct Pending<TState>(TState State, int Hash, int Parent, int Event);
