using System.Collections.Immutable;
using CpuidFunctional.Core.Checking.Internal;
using CpuidFunctional.Core.Model;
using CpuidFunctional.Core.State;

namespace CpuidFunctional.Core.Checking;

/// <summary>
/// Several policies of the real <see cref="Kvm.Step"/> run in lock-step over an alphabet: the invariant is that they
/// make the same observation on every event (every CPUID answer, KVM_GET_CPUID2 table, fault and ioctl result).
/// <para>
/// Events follow the level: while L2 runs only the CR4 writes L0 handles, the nested VM-exit and KVM_GET_CPUID2 are
/// enabled (every other guest instruction of the alphabet exits to L1 on VMX, spec §7.3, as do the CR4 writes
/// <see cref="Kvm.NestedVmxL1WantsExit"/> gives L1; an exit changes nothing, so leaving it out loses no state). The quirk may be disabled only while that
/// is unobservable: no update pending and IA32_MISC_ENABLE.MWAIT equal to the table's MWAIT bit. Otherwise real KVM's
/// schemes differ by design (spec, Modelling note 5: lazy samples the quirk at the observation, eager at the
/// trigger, and a recompute-at-observation reference would see the MSR at once).
/// </para>
/// </summary>
public sealed class KvmEquivalenceModel : ITransitionSystem<ProductState, VcpuEvent, ProductObservation>
{
    private readonly ImmutableArray<Policy> policies;

    /// <summary>A model over a configuration's policies and an alphabet (by default <see cref="KvmAlphabet.For"/>).</summary>
    public KvmEquivalenceModel(CheckConfiguration configuration, IReadOnlyList<VcpuEvent>? alphabet = null)
    {
        Configuration = configuration;
        policies = configuration.Policies.Items;
        Alphabet = alphabet ?? KvmAlphabet.For(configuration);
        Initial = configuration.InitialState();
    }

    /// <summary>The configuration checked.</summary>
    public CheckConfiguration Configuration { get; }

    /// <inheritdoc/>
    public ProductState Initial { get; }

    /// <inheritdoc/>
    public IReadOnlyList<VcpuEvent> Alphabet { get; }

    /// <inheritdoc/>
    public bool TryStep(in ProductState state, VcpuEvent e, out ProductState next, out ProductObservation observation)
    {
        var states = state.Items;
        if (!Enabled(states, e))
        {
            next = state;
            observation = default;
            return false;
        }
        var after = new KvmState[states.Length];
        var seen = new Observation?[states.Length];
        var changed = false;
        for (var i = 0; i < states.Length; i++)
        {
            var t = Kvm.Step(policies[i], states[i], e);
            after[i] = t.State;
            seen[i] = t.Observation;
            changed |= !ReferenceEquals(t.State.Vcpu, states[i].Vcpu) || !ReferenceEquals(t.State.Vm, states[i].Vm);
        }
        next = changed ? new ProductState(System.Runtime.InteropServices.ImmutableCollectionsMarshal.AsImmutableArray(after)) : state;
        observation = new ProductObservation(System.Runtime.InteropServices.ImmutableCollectionsMarshal.AsImmutableArray(seen));
        return true;
    }

    /// <inheritdoc/>
    public string? Violation(in ProductState next, in ProductObservation observation) =>
        observation.Agree ? null : "observations differ:" + observation.Describe(policies);

    /// <summary>
    /// Explores the model: the same search as <see cref="Explorer.Explore{TState, TEvent, TObservation}"/>, with the
    /// same figures and counterexample, run over interned policy states. Each policy's <see cref="Kvm.Step"/> runs once
    /// per distinct (policy state, event) pair instead of once per product transition, and the visited set holds one
    /// 32-bit id per policy instead of the states (docs/model-checking.md, "Speed: interned policy states"). More than four policies take the
    /// plain search.
    /// </summary>
    public ExplorationResult<ProductState, VcpuEvent, ProductObservation> Explore(
        ExplorationOptions? options = null,
        CancellationToken cancellationToken = default
    )
    {
        if (policies.Length > IdTuple.Max)
        {
            return Explorer.Explore<ProductState, VcpuEvent, ProductObservation, KvmEquivalenceModel>(this, options, cancellationToken);
        }
        var result = Explorer.ExploreAll<IdTuple, int, IdObservation, MemoizedProduct>(new MemoizedProduct(this), options, cancellationToken);
        return new(result.Outcome, result.Statistics, result.Counterexample is { } c ? Replay(c.Events) : null);
    }

    /// <summary>The counterexample of a path of alphabet positions, replayed on the model's own states.</summary>
    private Counterexample<ProductState, VcpuEvent, ProductObservation> Replay(IEnumerable<int> path)
    {
        var steps = ImmutableArray.CreateBuilder<TraceStep<ProductState, VcpuEvent, ProductObservation>>();
        var s = Initial;
        var violation = (string?)null;
        foreach (var position in path)
        {
            var e = Alphabet[position];
            if (!TryStep(in s, e, out var next, out var observation))
            {
                throw new InvalidOperationException($"replay: event {e} is not enabled");
            }
            steps.Add(new(e, observation, next));
            violation = Violation(in next, in observation);
            s = next;
        }
        return new(Initial, steps.ToImmutable(), violation ?? throw new InvalidOperationException("replay: the path ends without a violation"));
    }

    private static bool Enabled(ImmutableArray<KvmState> states, VcpuEvent e)
    {
        var quirk = true;
        foreach (var state in states)
        {
            quirk &= QuirkDisableUnobservable(state);
        }
        return Enabled(e, states[0].Vcpu, quirk);
    }

    /// <summary>Whether an event is enabled, given the first policy's vCPU (its level, and L1's CR4 mask in L2) and <see cref="QuirkDisableUnobservable"/> of every policy.</summary>
    internal static bool Enabled(VcpuEvent e, Vcpu first, bool quirkDisableUnobservable)
    {
        if (first.GuestMode)
        {
            return e switch
            {
                VcpuEvent.MovToCr4(var cr4) => Kvm.NestedVmxL1WantsExit(first, VmxL2Instruction.MovToCr4, cr4) is null,
                _ => e is VcpuEvent.NestedVmExit or VcpuEvent.GetCpuid2,
            };
        }
        return e switch
        {
            VcpuEvent.NestedVmExit => false,
            VcpuEvent.DisableQuirks2 => quirkDisableUnobservable,
            _ => true,
        };
    }

    /// <summary>Disabling MISC_ENABLE_NO_MWAIT now would change no observation of this policy's state under any correct scheme.</summary>
    internal static bool QuirkDisableUnobservable(KvmState state)
    {
        var (vm, v) = state;
        if (!vm.QuirkInEffect(KvmQuirks.MiscEnableNoMwait) || v.CpuidDynamicBitsDirty)
        {
            return false;
        }
        var msr = (v.MiscEnable & Msr.MiscEnableMwait) != 0;
        var table = (v.Caps & DynamicCaps.Mwait) != 0;
        return msr == table;
    }
}
