using System.Globalization;
using CpuidFunctional.Core.Cpuid;
using CpuidFunctional.Core.Host;
using CpuidFunctional.Core.Model;
using CpuidFunctional.Core.State;

namespace CpuidFunctional.Core.Scenarios;

/// <summary>
/// Runs a scenario under several policies in lock-step (by default the three correct ones): every step must give
/// every policy the same observation, unless the next line declares <c>expect policies-differ</c>, and every
/// expectation must hold (on the first policy's observation). Stops at the first failure.
/// </summary>
public static class ScenarioRunner
{
    /// <summary>Runs a scenario on a host (the shell resolves <see cref="Scenario.Host"/> to it).</summary>
    public static ScenarioReport Run(Scenario scenario, HostCpu host, IReadOnlyList<Policy>? policies = null)
    {
        policies ??= Policy.Correct;
        var states = NewVm(host, scenario.Profile, scenario.XcompGuestPermRequested, policies);
        var table = host.Cpuid;
        Observation?[]? last = null;
        VcpuEvent? lastStep = null;
        // What failure messages call the last step: the event, or the system ioctl that was not one.
        string? lastText = null;
        // The VM KVM_GET_SUPPORTED_CPUID answered for (its profile and process), if it was the last step.
        Vm? supported = null;
        var events = 0;
        var checks = 0;
        // Whether the current VM's vCPU exists: from the start, unless the VM's steps create it later (create-vcpu).
        var vcpuCreated = !CreatesVcpuLater(scenario, 0);
        ScenarioReport Fail(int line, string message) => new(scenario.Source, events, checks, new ScenarioFailure(scenario.Source, line, message));

        // A system ioctl: answered for the VM (host, profile, process), not by a vCPU, so every policy sees the same.
        void SystemIoctl(string name, Observation? answer)
        {
            last = [.. states.Select(_ => answer)];
            lastStep = null;
            lastText = name;
            supported = null;
            events++;
        }

        for (var s = 0; s < scenario.Steps.Count; s++)
        {
            var step = scenario.Steps[s];
            VcpuEvent e;
            switch (step)
            {
                case ScenarioStep.Edit(var line, var edit):
                    if (edit.Apply(host.Cpuid, table) is not { } edited)
                    {
                        return Fail(line, $"guest-cpuid: cannot apply {edit}: the entry to edit is missing, or the one to add is there already");
                    }
                    table = edited;
                    continue;
                case ScenarioStep.Expect(var line, var expected, var text):
                    if (last is null)
                    {
                        return Fail(line, "'expect' before any step");
                    }
                    checks++;
                    if (expected is Expectation.Supported s2)
                    {
                        if (CheckSupported(s2, supported) is { } wrong)
                        {
                            return Fail(line, $"{text}: {wrong}");
                        }
                        continue;
                    }
                    if (expected is Expectation.PoliciesDiffer)
                    {
                        if (last.All(o => Equals(o, last[0])))
                        {
                            return Fail(line, $"{text}: after '{lastText}' every policy saw {Show(last[0])}");
                        }
                        continue;
                    }
                    if (Check(expected, last[0], lastStep) is { } why)
                    {
                        return Fail(line, $"{text}: after '{lastText}' {why}");
                    }
                    continue;
                case ScenarioStep.NewVm(_, var profile):
                    states = NewVm(host, profile ?? scenario.Profile, scenario.XcompGuestPermRequested, policies);
                    table = host.Cpuid;
                    last = null;
                    vcpuCreated = !CreatesVcpuLater(scenario, s + 1);
                    continue;
                case ScenarioStep.CreateVcpu:
                    // The VM as the steps before left it (its quirks), with its vCPU created only now.
                    for (var i = 0; i < states.Length; i++)
                    {
                        states[i] = KvmState.Create(states[i].Vm, policies[i]);
                    }
                    last = null;
                    vcpuCreated = true;
                    continue;
                case ScenarioStep.Apply(_, VcpuEvent.DisableExits(var mask) exits) when !vcpuCreated:
                    // A VM ioctl before KVM_CREATE_VCPU: the VM takes it (or not) as it is.
                    last = new Observation?[states.Length];
                    for (var i = 0; i < states.Length; i++)
                    {
                        var vm = DisableExits.Enable(states[i].Vm, mask, vcpuCreated: false);
                        last[i] = vm is null ? new Observation.IoctlError(Errno.EINVAL) : new Observation.IoctlDone(0);
                        states[i] = vm is null ? states[i] : states[i] with { Vm = vm };
                    }
                    events++;
                    lastStep = exits;
                    lastText = exits.ToString();
                    supported = null;
                    continue;
                case ScenarioStep.GetSupportedCpuid:
                    // A system ioctl: no vCPU takes part, every policy sees the same.
                    SystemIoctl("KVM_GET_SUPPORTED_CPUID", null);
                    supported = states[0].Vm;
                    continue;
                case ScenarioStep.CheckExtension(_, var capability):
                    SystemIoctl($"KVM_CHECK_EXTENSION({CheckExtension.KvmName(capability)})", new Observation.IoctlDone(CheckExtension.Answer(states[0].Vm, capability)!.Value));
                    continue;
                case ScenarioStep.SetCpuid2:
                    e = new VcpuEvent.SetCpuid2(table);
                    break;
                case ScenarioStep.SetSregs(_, var cr0, var cr4, var efer, var apic):
                    {
                        var now = states[0].Vcpu;
                        e = new VcpuEvent.SetSregs(cr4 ?? now.Cr4, apic ?? now.ApicBase) { Cr0 = cr0 ?? now.Cr0, Efer = efer ?? now.Efer };
                        break;
                    }
                case ScenarioStep.Apply(_, var applied):
                    e = applied;
                    break;
                default:
                    throw new System.Diagnostics.UnreachableException(step.GetType().Name);
            }
            supported = null;
            last = new Observation?[states.Length];
            for (var i = 0; i < states.Length; i++)
            {
                var t = Kvm.Step(policies[i], states[i], e);
                states[i] = t.State;
                last[i] = t.Observation;
            }
            events++;
            lastStep = e;
            lastText = e.ToString();
            var declared = s + 1 < scenario.Steps.Count && scenario.Steps[s + 1] is ScenarioStep.Expect(_, Expectation.PoliciesDiffer, _);
            for (var i = 1; i < states.Length && !declared; i++)
            {
                if (!Equals(last[i], last[0]))
                {
                    var each = string.Join("; ", policies.Select((p, k) => $"{p}: {Show(last[k])}"));
                    return Fail(step.Line, $"policies differ on '{lastStep}': {each}");
                }
            }
        }
        return new ScenarioReport(scenario.Source, events, checks, null);
    }

    /// <summary>
    /// A new VM on the host with the profile's supported quirks, none disabled, the process's AMX permission, and its
    /// vCPU, once per policy.
    /// </summary>
    private static KvmState[] NewVm(HostCpu host, KernelProfile profile, bool xcompGuestPerm, IReadOnlyList<Policy> policies)
    {
        var vm = new Vm(host, profile) { XcompGuestPermRequested = xcompGuestPerm };
        return [.. policies.Select(p => KvmState.Create(vm, p))];
    }

    /// <summary>Whether the steps of the VM from <paramref name="from"/> on (up to the next <c>vm</c> line) include <c>create-vcpu</c>.</summary>
    private static bool CreatesVcpuLater(Scenario scenario, int from) =>
        scenario.Steps.Skip(from).TakeWhile(s => s is not ScenarioStep.NewVm).Any(s => s is ScenarioStep.CreateVcpu);

    private static string Show(Observation? o) => o?.ToString() ?? "(nothing)";

    private static string Hex(ulong v) => "0x" + v.ToString("x", CultureInfo.InvariantCulture);

    /// <summary>Null if the expectation holds, otherwise what was seen instead.</summary>
    private static string? Check(Expectation expected, Observation? seen, VcpuEvent? during)
    {
        switch (expected)
        {
            case Expectation.Exactly(var o):
                return Equals(o, seen) ? null : $"expected {Show(o)}, got {Show(seen)}";
            case Expectation.Register(var register, var mask, var value):
                {
                    if (seen is not Observation.CpuidResult r)
                    {
                        return $"expected a CPUID answer, got {Show(seen)}";
                    }
                    var actual = register switch
                    {
                        CpuidRegister.Eax => r.Eax,
                        CpuidRegister.Ebx => r.Ebx,
                        CpuidRegister.Ecx => r.Ecx,
                        _ => r.Edx,
                    };
                    return (actual & mask) == value ? null : Differs(register, mask, value, actual);
                }
            case Expectation.Entry(var leaf, var sub, var register, var mask, var value):
                {
                    if (FindEntry(seen, leaf, sub, out var entry) is { } missing)
                    {
                        return missing;
                    }
                    var actual = entry.Get(register);
                    return (actual & mask) == value ? null : $"entry {CpuidEdit.Key(leaf, sub)}: " + Differs(register, mask, value, actual);
                }
            case Expectation.EntryFlags(var leaf, var sub, var flags):
                {
                    if (FindEntry(seen, leaf, sub, out var entry) is { } missing)
                    {
                        return missing;
                    }
                    return entry.Flags == flags ? null : $"entry {CpuidEdit.Key(leaf, sub)}: flags expected {Hex((ulong)flags)}, got {Hex((ulong)entry.Flags)}";
                }
            case Expectation.Nent(var nent):
                {
                    int? returned = (seen, during) switch
                    {
                        (Observation.Cpuid2 c, _) => c.Table.Count,
                        (Observation.IoctlError(Errno.E2BIG), VcpuEvent.GetCpuid2(var callers)) => callers,
                        _ => null,
                    };
                    return returned is not { } n ? $"expected a KVM_GET_CPUID2 result, got {Show(seen)}"
                        : n == nent ? null : $"nent: expected {nent}, got {n}";
                }
            case Expectation.Sregs(var cr0, var cr4, var efer, var apicBase):
                {
                    if (seen is not Observation.Sregs r)
                    {
                        return $"expected KVM_GET_SREGS, got {Show(seen)}";
                    }
                    var wrong = new[] { ("cr0", cr0, r.Cr0), ("cr4", cr4, r.Cr4), ("efer", efer, r.Efer), ("apic-base", apicBase, r.ApicBase) }
                        .Where(f => f.Item2 is { } want && want != f.Item3)
                        .Select(f => $"{f.Item1}: expected {Hex(f.Item2!.Value)}, got {Hex(f.Item3)}")
                        .ToList();
                    return wrong.Count == 0 ? null : string.Join("; ", wrong);
                }
            case Expectation.NoEntry(var leaf, var sub):
                if (seen is not Observation.Cpuid2 t)
                {
                    return $"expected a KVM_GET_CPUID2 table, got {Show(seen)}";
                }
                return t.Table.Find(leaf, sub) is { } found ? $"the table has an entry for {CpuidEdit.Key(leaf, sub)}: {found}" : null;
            case Expectation.MsrValue(var value):
                return seen is Observation.MsrValue m && m.Value == value ? null : $"expected RDMSR {Hex(value)}, got {Show(seen)}";
            default:
                throw new System.Diagnostics.UnreachableException(expected.GetType().Name);
        }
    }

    /// <summary>Null if KVM_GET_SUPPORTED_CPUID, as far as the model knows it, has the expected bits; otherwise why not.</summary>
    private static string? CheckSupported(Expectation.Supported expected, Vm? vm)
    {
        if (vm is null)
        {
            return "expected KVM_GET_SUPPORTED_CPUID just before";
        }
        var (leaf, sub, register, mask, value) = expected;
        var known = SupportedCpuid.Answer(vm, leaf, sub, register);
        if ((mask & ~known.Mask) != 0)
        {
            return $"the model does not know {register.ToString().ToLowerInvariant()} bits {Hex(mask & ~known.Mask)} of KVM_GET_SUPPORTED_CPUID {CpuidEdit.Key(leaf, sub)} (it knows {Hex(known.Mask)})";
        }
        return (known.Value & mask) == value ? null : $"KVM_GET_SUPPORTED_CPUID {CpuidEdit.Key(leaf, sub)}: " + Differs(register, mask, value, known.Value);
    }

    /// <summary>The KVM_GET_CPUID2 table's entry for (leaf, sub-leaf) by KVM's lookup; null, or why there is none.</summary>
    private static string? FindEntry(Observation? seen, uint leaf, uint sub, out CpuidEntry entry)
    {
        entry = default;
        if (seen is not Observation.Cpuid2 c)
        {
            return $"expected a KVM_GET_CPUID2 table, got {Show(seen)}";
        }
        if (c.Table.Find(leaf, sub) is not { } found)
        {
            return $"the table has no entry for {CpuidEdit.Key(leaf, sub)}";
        }
        entry = found;
        return null;
    }

    private static string Differs(CpuidRegister register, uint mask, uint value, uint actual)
    {
        var name = register.ToString().ToLowerInvariant();
        if (mask != uint.MaxValue && (mask & (mask - 1)) == 0)
        {
            var bit = System.Numerics.BitOperations.TrailingZeroCount(mask);
            return $"{name}.{bit}: expected {(value != 0 ? 1 : 0)}, got {((actual & mask) != 0 ? 1 : 0)} ({name}={Hex(actual)})";
        }
        return $"{name}: expected {Hex(value)}, got {Hex(actual)}";
    }
}
