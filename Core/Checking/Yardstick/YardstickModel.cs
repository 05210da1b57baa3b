using System.Collections.Immutable;
using CpuidFunctional.Core.Host;
using CpuidFunctional.Core.State;

namespace CpuidFunctional.Core.Checking.Yardstick;

/// <summary>
/// The shared yardstick (shared/modelcheck/README.md and cpuid.pml) expressed through
/// <see cref="ITransitionSystem{TState, TEvent, TObservation}"/>: one vCPU run lazily and eagerly side by side on a
/// Skylake-SP host under the 6.15 profile, every event one transition, and the invariant "lazy table equals eager
/// table at every CPUID and KVM_GET_CPUID2". A struct, so that <see cref="Explorer"/> is specialised for it.
/// </summary>
public readonly struct YardstickModel : ITransitionSystem<YardstickState, YardstickEvent, YardstickObservation>
{
    private readonly ImmutableArray<YardstickEvent> alphabet;
    private readonly YardstickSizes sizes;
    private readonly bool quirkGuard;

    /// <summary>A yardstick over a host XSAVE layout.</summary>
    /// <param name="layout">The host's component table (the sizes come from <see cref="XsaveLayout.RequiredSize"/>).</param>
    /// <param name="quirkGuard">Disable the quirk only while no update is pending (false re-finds spec note 5).</param>
    public YardstickModel(XsaveLayout layout, bool quirkGuard = true)
    {
        Masks = [.. Enumerable.Range(0, 16).Select(i => Mask(i))];
        sizes = new YardstickSizes(layout, Masks);
        this.quirkGuard = quirkGuard;
        var events = ImmutableArray.CreateBuilder<YardstickEvent>();
        events.Add(new(YardstickEventKind.ToggleCr4OsXsave));
        events.Add(new(YardstickEventKind.ToggleCr4Pke));
        for (var i = 0; i < 16; i++)
        {
            events.Add(new(YardstickEventKind.Xsetbv, Masks[i], (byte)i));
        }
        for (var k = YardstickEventKind.WrmsrXss0; k <= YardstickEventKind.GetCpuid2; k++)
        {
            events.Add(new(k));
        }
        alphabet = events.ToImmutable();
        var initialTable = (uint)sizes.ClassOf(0) << YardstickState.TableSizeShift;
        Initial = new YardstickState((initialTable << YardstickState.LazyShift) | (initialTable << YardstickState.EagerShift));
    }

    /// <summary>The Skylake-SP component table of the yardstick (i: size@offset): 2: 256@576, 3: 64@960, 4: 64@1024, 5: 64@1088, 6: 512@1152, 7: 1024@1664, 9: 8@2688.</summary>
    public static XsaveLayout SkylakeSpLayout { get; } =
        XsaveLayout.Of(
            [
                new XsaveComponent(2, 256, 576, 0),
                new XsaveComponent(3, 64, 960, 0),
                new XsaveComponent(4, 64, 1024, 0),
                new XsaveComponent(5, 64, 1088, 0),
                new XsaveComponent(6, 512, 1152, 0),
                new XsaveComponent(7, 1024, 1664, 0),
                new XsaveComponent(9, 8, 2688, 0),
            ]
        );

    /// <summary>
    /// The 16 valid Skylake-SP XCR0 values by index: bits 0–1 pick the chain x87 (0x1), +SSE (0x3), +YMM (0x7),
    /// +AVX-512 (0xE7); bit 2 adds MPX (0x18); bit 3 adds PKRU (0x200).
    /// </summary>
    public ImmutableArray<ulong> Masks { get; }

    /// <summary>The size table of the masks.</summary>
    public YardstickSizes Sizes => sizes;

    /// <inheritdoc/>
    public YardstickState Initial { get; }

    /// <inheritdoc/>
    public IReadOnlyList<YardstickEvent> Alphabet => alphabet;

    private static ulong Mask(int i) =>
        (i & 3) switch
        {
            0 => 0x1ul,
            1 => 0x3ul,
            2 => 0x7ul,
            _ => 0xE7ul,
        }
        | ((i & 4) != 0 ? 0x18ul : 0)
        | ((i & 8) != 0 ? 0x200ul : 0);

    /// <inheritdoc/>
    public bool TryStep(in YardstickState state, YardstickEvent e, out YardstickState next, out YardstickObservation observation)
    {
        var s = state.Bits;
        var l1 = (s & YardstickState.L2) == 0;
        observation = default;
        switch (e.Kind)
        {
            case YardstickEventKind.ToggleCr4OsXsave:
                s = Trigger(s ^ YardstickState.Cr4OsXsave);
                break;
            case YardstickEventKind.ToggleCr4Pke:
                s = Trigger(s ^ YardstickState.Cr4Pke);
                break;
            case YardstickEventKind.Xsetbv when l1:
                {
                    var old = (int)(s >> YardstickState.Xcr0Shift) & 0xF;
                    s = (s & ~(0xFu << YardstickState.Xcr0Shift)) | ((uint)e.Xcr0Index << YardstickState.Xcr0Shift);
                    // __kvm_set_xcr: a trigger iff a bit of XFEATURE_MASK_EXTEND changed.
                    if (((Masks[old] ^ e.Xcr0) & Xcr0.MaskExtend) != 0)
                    {
                        s = Trigger(s);
                    }
                    break;
                }
            case YardstickEventKind.WrmsrXss0 when l1:
                s = Trigger(s & ~YardstickState.Xss);
                break;
            case YardstickEventKind.WrmsrXss100 when l1:
                s = Trigger(s | YardstickState.Xss);
                break;
            case YardstickEventKind.ToggleApicEnable when l1:
                s = Trigger(s ^ YardstickState.ApicEnable);
                break;
            case YardstickEventKind.ToggleMiscEnableMwait when l1:
                s ^= YardstickState.MiscMwait;
                if ((s & YardstickState.QuirkDisabled) != 0)
                {
                    s = Trigger(s);
                }
                break;
            case YardstickEventKind.DisableMwaitQuirk when l1 && (s & YardstickState.QuirkDisabled) == 0:
                if (quirkGuard && (s & YardstickState.Dirty) != 0)
                {
                    next = state;
                    return false;
                }
                s |= YardstickState.QuirkDisabled;
                break;
            case YardstickEventKind.VmwriteGuestOsXsave when l1:
                s ^= YardstickState.GuestOsXsave;
                break;
            case YardstickEventKind.VmwriteGuestPke when l1:
                s ^= YardstickState.GuestPke;
                break;
            case YardstickEventKind.VmwriteHostOsXsave when l1:
                s ^= YardstickState.HostOsXsave;
                break;
            case YardstickEventKind.VmwriteHostPke when l1:
                s ^= YardstickState.HostPke;
                break;
            case YardstickEventKind.VmEntry when l1:
                s = LoadCr4(s | YardstickState.L2, (s >> 11) & 3); // prepare_vmcs02: vmx_set_cr4(GUEST_CR4)
                break;
            case YardstickEventKind.VmExit when !l1:
                s = LoadCr4(s & ~YardstickState.L2, (s >> 13) & 3); // load_vmcs12_host_state: vmx_set_cr4(HOST_CR4)
                break;
            case YardstickEventKind.Cpuid when l1:
            case YardstickEventKind.GetCpuid2:
                s = Observe(s);
                observation = new YardstickObservation(true, (s >> YardstickState.LazyShift) & 0xFF, s >> YardstickState.EagerShift, sizes);
                break;
            default:
                next = state;
                return false;
        }
        next = new YardstickState(s);
        return true;
    }

    /// <inheritdoc/>
    public string? Violation(in YardstickState next, in YardstickObservation observation) =>
        observation.Differs ? observation.Difference() : null;

    /// <summary>The table <c>kvm_update_cpuid_runtime</c> writes from the current state, given the previous table (MWAIT kept while the quirk is in effect).</summary>
    private uint Materialize(uint s, uint oldTable)
    {
        var table = (s & 3) // OSXSAVE, OSPKE sit at the same positions as CR4.OSXSAVE, CR4.PKE
            | ((s & YardstickState.ApicEnable) != 0 ? YardstickState.TableApic : 0)
            | ((s & YardstickState.QuirkDisabled) != 0
                ? ((s & YardstickState.MiscMwait) != 0 ? YardstickState.TableMwait : 0)
                : oldTable & YardstickState.TableMwait)
            | ((uint)sizes.ClassOf((int)(s >> YardstickState.Xcr0Shift) & 0xF) << YardstickState.TableSizeShift);
        return table;
    }

    /// <summary>A trigger: the eager table is rewritten at once, the lazy vCPU only sets its marker.</summary>
    private uint Trigger(uint s)
    {
        var eager = Materialize(s, s >> YardstickState.EagerShift);
        return (s & 0x00FF_FFFFu) | (eager << YardstickState.EagerShift) | YardstickState.Dirty;
    }

    /// <summary>A consumer: the lazy vCPU clears its marker and materializes if it was set.</summary>
    private uint Observe(uint s)
    {
        if ((s & YardstickState.Dirty) == 0)
        {
            return s;
        }
        var lazy = Materialize(s, (s >> YardstickState.LazyShift) & 0xFF);
        return (s & ~(0xFFu << YardstickState.LazyShift) & ~YardstickState.Dirty) | (lazy << YardstickState.LazyShift);
    }

    /// <summary><c>vmx_set_cr4</c> with the two dynamic bits: a trigger iff they change.</summary>
    private uint LoadCr4(uint s, uint bits) => (s & 3) == bits ? s : Trigger((s & ~3u) | bits);
}
