using System.Text;
using CpuidFunctional.Oracle;

namespace CpuidFunctional.Properties.Live;

/// <summary>
/// A trace run on the live kernel and on the model (that kernel's profile, Lazy and Eager) from the same start: the model
/// starts from the table KVM_GET_CPUID2 returned right after the set-up's KVM_SET_CPUID2, so PVM's rewrites of
/// that table are inputs, not something Core models.
/// </summary>
internal sealed record LiveComparison(string Kernel, CpuidTable StartTable, LiveRegisters StartRegisters, IReadOnlyList<ObservationRow> Rows)
{
    /// <summary>Every step agrees.</summary>
    public bool Agrees => Rows.All(r => r.Agrees);

    /// <summary>Steps where something was observed.</summary>
    public int Observations => Rows.Count(r => r.IsObservation);

    /// <summary>Runs <paramref name="events"/> on a fresh VM whose vCPU got KVM_SET_CPUID2(<paramref name="table"/>).</summary>
    public static LiveComparison Run(KvmSystem kvm, HostCpu host, CpuidTable table, ulong disabledQuirks, IEnumerable<VcpuEvent> events, ulong disabledExits = 0)
    {
        var created = LiveKvmTarget.Create(kvm, table, disabledQuirks, disabledExits);
        if (created is IoctlResult<LiveKvmTarget>.Failed f)
        {
            Assert.Fail($"set-up of the live vCPU failed: {f}");
        }
        using var target = ((IoctlResult<LiveKvmTarget>.Ok)created).Value;
        return Run(target, host, events);
    }

    /// <summary>Runs <paramref name="events"/> on an existing target and the model started from it.</summary>
    public static LiveComparison Run(LiveKvmTarget target, HostCpu host, IEnumerable<VcpuEvent> events) =>
        Run(target, host, events, (e, _) => [e]);

    /// <summary>
    /// Runs abstract steps: <paramref name="resolve"/> turns each into concrete events, given the Lazy model's state
    /// at that point (so a step can depend on whether the vCPU has run, its CPL, or a pending update).
    /// </summary>
    public static LiveComparison Run<TStep>(
        LiveKvmTarget target,
        HostCpu host,
        IEnumerable<TStep> steps,
        Func<TStep, KvmState, IReadOnlyList<VcpuEvent>> resolve
    )
    {
        var lazy = target.ModelStart(host, Policy.Lazy);
        var eager = target.ModelStart(host, Policy.Eager);
        var rows = new List<ObservationRow>();
        var step = 0;
        foreach (var s in steps)
        {
            foreach (var e in resolve(s, lazy))
            {
                var kernel = target.Apply(e);
                var l = Kvm.Step(Policy.Lazy, lazy, e);
                var g = Kvm.Step(Policy.Eager, eager, e);
                lazy = l.State;
                eager = g.State;
                rows.Add(new ObservationRow(step++, e, kernel, l.Observation, g.Observation));
                if (kernel is not LiveResult.Observed)
                {
                    // Unsupported or an oracle failure: the vCPU may be in an unknown state; the report shows where.
                    return new LiveComparison(KvmSystem.KernelRelease, target.StartTable, target.StartRegisters, rows);
                }
            }
        }
        return new LiveComparison(KvmSystem.KernelRelease, target.StartTable, target.StartRegisters, rows);
    }

    /// <summary>
    /// What is compared. PVM (not KVM's common code) rewrites CPUID.1:EBX[31:24], the initial APIC ID, from the
    /// host CPU that ran KVM_SET_CPUID2 (observations §0.1), so a KVM_SET_CPUID2 before the first run can change
    /// it; that byte is masked on both sides. Everything else is compared exactly.
    /// </summary>
    public static Observation? Normalize(Observation? o) => o switch
    {
        Observation.CpuidResult r when r.Leaf == 1 => r with { Ebx = r.Ebx & 0x00FF_FFFF },
        Observation.Cpuid2(var t) when t.IndexOfFunction(1) is var i and >= 0 => new Observation.Cpuid2(
            t.SetItem(i, t[i] with { Ebx = t[i].Ebx & 0x00FF_FFFF })
        ),
        _ => o,
    };

    /// <summary>The whole trace, disagreeing steps marked with '*', both sides' values printed.</summary>
    public string Report()
    {
        var sb = new StringBuilder();
        sb.Append("kernel ").Append(Kernel).Append("; start: ").Append(StartRegisters).Append('\n');
        foreach (var r in Rows)
        {
            sb.Append(r).Append('\n');
        }
        return sb.ToString();
    }
}
