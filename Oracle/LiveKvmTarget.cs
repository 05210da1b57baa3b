using System.Buffers.Binary;
using System.Globalization;
using CpuidFunctional.Core;
using CpuidFunctional.Core.Cpuid;
using CpuidFunctional.Core.Dynamic;
using CpuidFunctional.Core.Host;
using CpuidFunctional.Core.Model;
using CpuidFunctional.Core.State;
using CpuidFunctional.Oracle.Native;

namespace CpuidFunctional.Oracle;

/// <summary>
/// The live kernel as a target for Core events: a fresh VM with one vCPU running the guest interpreters, to which
/// <see cref="Apply"/> maps each <see cref="VcpuEvent"/> (guest instructions as one guest command per KVM_RUN,
/// ioctl events as the ioctl) and returns what the kernel showed in the shape <see cref="Kvm.Step"/> returns.
/// </summary>
public sealed class LiveKvmTarget : IDisposable
{
    private const ulong Cr0Pe = 1;
    private const ulong Cr0Et = 1ul << 4;

    // Assembled once per process: GuestCode.Assemble is deterministic, and every trace creates a target.
    private static readonly GuestImage Image = GuestCode.Assemble();

    // Read once per process: the release and the loaded vendor module do not change while it runs.
    private static readonly LiveKernelIdentity ThisKernel = LiveKernelIdentity.Current;
    private static readonly ValueArray<byte> SmmStub = GuestCode.SmmEntryStub(Image.RealModeEntry);
    private static readonly ValueArray<byte> ResetVectorStub = GuestCode.ResetVectorStub();

    private readonly LiveVm vm;
    private readonly LiveVcpu vcpu;
    private readonly KvmSregs realModeSregs; // the real-mode segment state to return to from CPL3
    private readonly bool smm; // KVM_CAP_X86_SMM, and the SMRAM address space set up
    private readonly bool inKernelApic; // KVM_CREATE_IRQCHIP before the vCPU: INIT can be latched
    private byte cpl; // which interpreter runs: 0 = real mode (also in SMM), 3 = the CPL3 protected-mode one
    private bool inSmm; // between a delivered SMI and a successful RSM
    private byte cplBeforeSmi; // the interpreter RSM returns to
    private bool initLatchedInSmm; // an INIT arrived in SMM: KVM takes it when RSM leaves SMM

    private LiveKvmTarget(LiveVm vm, LiveVcpu vcpu, KvmSregs realModeSregs, bool smm, bool inKernelApic, ulong disabledQuirks, ulong supportedQuirks, ulong disabledExits)
    {
        this.vm = vm;
        this.vcpu = vcpu;
        this.realModeSregs = realModeSregs;
        this.smm = smm;
        this.inKernelApic = inKernelApic;
        DisabledQuirks = disabledQuirks;
        SupportedQuirks = supportedQuirks;
        DisabledExits = disabledExits;
    }

    /// <summary>The quirks disabled before the vCPU was created.</summary>
    public ulong DisabledQuirks { get; }

    /// <summary>The quirks this kernel lets userspace disable (KVM_CAP_DISABLE_QUIRKS2), asked at creation.</summary>
    public ulong SupportedQuirks { get; }

    /// <summary>The exits disabled (KVM_CAP_X86_DISABLE_EXITS) before the vCPU was created.</summary>
    public ulong DisabledExits { get; }

    /// <summary>The kernel this target runs on, and the model profile that follows its rules.</summary>
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Performance", "CA1822", Justification = "The kernel belongs to the target a test holds; one process has one kernel, which is why it is cached statically.")]
    public LiveKernelIdentity Kernel => ThisKernel;

    /// <summary>KVM_GET_CPUID2 right after the set-up's KVM_SET_CPUID2: the table the model starts from.</summary>
    public CpuidTable StartTable { get; private set; } = CpuidTable.Empty;

    /// <summary>The vCPU's registers after set-up, read back from the kernel.</summary>
    public LiveRegisters StartRegisters { get; private set; }

    /// <summary>
    /// Creates the VM (disabling <paramref name="disabledQuirks"/> and <paramref name="disabledExits"/> first, if any,
    /// and with <paramref name="inKernelApic"/> the in-kernel APIC, which INIT needs), the vCPU, installs the guest
    /// programs, KVM_SET_CPUID2(<paramref name="table"/>), enters real mode with CR4 = 0 and reads the start state.
    /// </summary>
    public static IoctlResult<LiveKvmTarget> Create(KvmSystem kvm, CpuidTable table, ulong disabledQuirks = 0, ulong disabledExits = 0, bool inKernelApic = false)
    {
        var created = kvm.CreateVm();
        if (created is IoctlResult<LiveVm>.Failed cf)
        {
            return new IoctlResult<LiveKvmTarget>.Failed(cf.Call, cf.Errno);
        }
        var vm = ((IoctlResult<LiveVm>.Ok)created).Value;
        if (disabledQuirks != 0 && vm.DisableQuirks2(disabledQuirks) is IoctlResult<int>.Failed q)
        {
            vm.Dispose();
            return new IoctlResult<LiveKvmTarget>.Failed(q.Call, q.Errno);
        }
        if (disabledExits != 0 && vm.DisableExits(disabledExits) is IoctlResult<int>.Failed x)
        {
            vm.Dispose();
            return new IoctlResult<LiveKvmTarget>.Failed(x.Call, x.Errno);
        }
        if (inKernelApic && vm.CreateIrqchip() is IoctlResult<int>.Failed i)
        {
            vm.Dispose();
            return new IoctlResult<LiveKvmTarget>.Failed(i.Call, i.Errno);
        }
        if (inKernelApic && vm.MapResetVectorPage() is IoctlResult<int>.Failed rv)
        {
            vm.Dispose();
            return new IoctlResult<LiveKvmTarget>.Failed(rv.Call, rv.Errno);
        }
        var smm = kvm.CheckExtension(KvmCapability.X86Smm) is IoctlResult<int>.Ok(> 0);
        if (smm && vm.MapMemoryInSmmAddressSpace() is IoctlResult<int>.Failed a)
        {
            vm.Dispose();
            return new IoctlResult<LiveKvmTarget>.Failed(a.Call, a.Errno);
        }
        var createdVcpu = vm.CreateVcpu();
        if (createdVcpu is IoctlResult<LiveVcpu>.Failed vf)
        {
            vm.Dispose();
            return new IoctlResult<LiveKvmTarget>.Failed(vf.Call, vf.Errno);
        }
        var vcpu = ((IoctlResult<LiveVcpu>.Ok)createdVcpu).Value;
        Install(vm.Memory);
        var setup = SetUp(vcpu, table);
        if (setup is IoctlResult<KvmSregs>.Failed f)
        {
            vcpu.Dispose();
            vm.Dispose();
            return new IoctlResult<LiveKvmTarget>.Failed(f.Call, f.Errno);
        }
        var supportedQuirks = kvm.CheckExtension(KvmCapability.DisableQuirks2) is IoctlResult<int>.Ok(var mask) ? (ulong)mask : 0;
        var target = new LiveKvmTarget(vm, vcpu, ((IoctlResult<KvmSregs>.Ok)setup).Value, smm, inKernelApic, disabledQuirks, supportedQuirks, disabledExits);
        var read = target.ReadStart();
        if (read is IoctlResult<int>.Failed r)
        {
            target.Dispose();
            return new IoctlResult<LiveKvmTarget>.Failed(r.Call, r.Errno);
        }
        return new IoctlResult<LiveKvmTarget>.Ok(target);
    }

    /// <summary>
    /// The model's VM for a live one: the oracle's process never asks for AMX tile data for its guests (arch_prctl
    /// ARCH_REQ_XCOMP_GUEST_PERM), so <see cref="Vm.XcompGuestPermRequested"/> is false.
    /// </summary>
    public static Vm ModelVm(
        HostCpu host,
        KernelProfile profile,
        KvmQuirks disabled = KvmQuirks.None,
        KvmQuirks supported = KvmQuirks.ProfileDefault,
        ulong disabledExits = 0
    ) => new(host, profile, disabled, supported) { XcompGuestPermRequested = false, DisabledExits = disabledExits };

    /// <summary>
    /// The model's start state for this vCPU: a VM on <paramref name="host"/> with this kernel's profile, its
    /// disableable quirks and the same quirks disabled, KVM_SET_CPUID2 of <see cref="StartTable"/>, and the MSR
    /// values the kernel reported (PVM's IA32_MISC_ENABLE RESET value differs from upstream's, so it is read, not
    /// assumed). Throws if the model has no profile for this kernel (callers skip such kernels first).
    /// </summary>
    public KvmState ModelStart(HostCpu host, Policy policy)
    {
        var profile = Kernel.Profile ?? throw new InvalidOperationException($"no model profile for kernel {Kernel}");
        var vmState = ModelVm(host, profile, (KvmQuirks)DisabledQuirks, (KvmQuirks)SupportedQuirks, DisabledExits);
        var s = KvmState.WithCpuid(vmState, policy, StartTable);
        var r = StartRegisters;
        var v = s.Vcpu with
        {
            Cr4 = r.Cr4,
            Xcr0 = r.Xcr0,
            Rare = s.Vcpu.Rare with { ApicBase = r.ApicBase, MiscEnable = r.MiscEnable, MiscFeaturesEnables = r.MiscFeaturesEnables },
        };
        // The registers above are the ones the kernel materialized StartTable from; recompute so the model's
        // table and capability bits agree with them whatever the RESET defaults were.
        var m = DynamicBits.Materialize(vmState, v, v.Cpuid, v.Caps, policy.Rules);
        return new KvmState(vmState, v with { Cpuid = m.Table, Caps = m.Caps });
    }

    /// <summary>Applies one Core event to the live vCPU.</summary>
    public LiveResult Apply(VcpuEvent e) => e switch
    {
        VcpuEvent.Run => Guest(GuestOp.Nop, 0, 0, 0, _ => null),
        VcpuEvent.Cpuid(var leaf, var subleaf) => Guest(
            GuestOp.Cpuid,
            leaf,
            subleaf,
            0,
            r => new Observation.CpuidResult(leaf, subleaf, r[0], r[1], r[2], r[3])
        ),
        VcpuEvent.MovToCr4(var value) when value <= uint.MaxValue && cpl == 0 => Guest(GuestOp.MovToCr4, (uint)value, 0, 0, _ => null),
        VcpuEvent.Xsetbv(var index, var value) when cpl == 0 => Guest(GuestOp.Xsetbv, (uint)value, (uint)(value >> 32), index, _ => null),
        VcpuEvent.Wrmsr(var index, var value) when cpl == 0 => Guest(GuestOp.Wrmsr, (uint)value, (uint)(value >> 32), index, _ => null),
        VcpuEvent.Rdmsr(var index) when cpl == 0 => Guest(
            GuestOp.Rdmsr,
            0,
            0,
            index,
            r => new Observation.MsrValue(index, r[0] | ((ulong)r[3] << 32))
        ),
        VcpuEvent.MovToCr4 or VcpuEvent.Xsetbv or VcpuEvent.Wrmsr or VcpuEvent.Rdmsr => new LiveResult.Unsupported(
            $"{e} at CPL{cpl}: the CPL3 interpreter only runs CPUID and MONITOR/MWAIT (and MOV CR4 takes a 32-bit value)"
        ),
        VcpuEvent.SetCpl when inSmm => new LiveResult.Unsupported("CPL change in SMM: the SMM handler is the real-mode interpreter (CPL0)"),
        VcpuEvent.SetCpl(var level) => SetCpl(level),
        VcpuEvent.SetSregs(var cr4, var apicBase) => SetSregs(cr4, apicBase),
        VcpuEvent.SetXcrs set => Ioctl(vcpu.SetXcrs(set.Xcrs, set.Flags), _ => new Observation.IoctlDone(0)),
        VcpuEvent.GetXcrs => Ioctl(vcpu.GetXcrs(), xcrs => xcrs),
        VcpuEvent.SetMsrs(var entries) => Ioctl(vcpu.SetMsrs(entries), n => new Observation.IoctlDone(n)),
        VcpuEvent.GetMsrs(var indices) => Ioctl(vcpu.GetMsrs(indices), read => new Observation.Msrs(new(read))),
        VcpuEvent.SetCpuid2(var table) => Ioctl(vcpu.SetCpuid2(table), _ => new Observation.IoctlDone(0)),
        VcpuEvent.GetCpuid2(var nent) => Ioctl(vcpu.GetCpuid2(nent), t => new Observation.Cpuid2(t)),
        VcpuEvent.DisableQuirks2(var mask) => Ioctl(vm.DisableQuirks2(mask), _ => new Observation.IoctlDone(0)),
        VcpuEvent.DisableExits(var mask) => Ioctl(vm.DisableExits(mask), _ => new Observation.IoctlDone(0)),
        VcpuEvent.MonitorMwait => Guest(GuestOp.MonitorMwait, 0, 0, 0, _ => new Observation.MwaitNop()),
        VcpuEvent.EnterSmm or VcpuEvent.Rsm when !smm => new LiveResult.Unsupported("SMM: KVM_CAP_X86_SMM is 0 here"),
        VcpuEvent.EnterSmm when inSmm => new LiveResult.Unsupported(
            "SMI in SMM: KVM keeps it pending (smi_pending) and enters SMM again right after RSM, as the model does; the oracle's RSM expects to leave SMM"
        ),
        VcpuEvent.EnterSmm => EnterSmm(),
        VcpuEvent.Rsm => Rsm(),
        VcpuEvent.Init when !inKernelApic => new LiveResult.Unsupported("INIT: the VM has no in-kernel APIC (LiveKvmTarget.Create with inKernelApic)"),
        VcpuEvent.Init when inSmm => LatchInitInSmm(),
        VcpuEvent.Init => Init(),
        VcpuEvent.Reset => new LiveResult.Unsupported("RESET: a vCPU is reset only when it is created"),
        VcpuEvent.SevEsSyncFromGhcb => new LiveResult.Unsupported("SEV-ES: not an SEV host"),
        VcpuEvent.NestedVmEntry or VcpuEvent.NestedVmExit => new LiveResult.Unsupported("nested: KVM_CAP_NESTED_STATE is 0 here"),
        _ => new LiveResult.Unsupported($"unknown event {e.GetType().Name}"),
    };

    /// <inheritdoc/>
    public void Dispose()
    {
        vcpu.Dispose();
        vm.Dispose();
    }

    // ---- set-up ----

    /// <summary>Copies both programs and the SMM entry stub, and builds the IVT, its IDTR, the GDT, TSS and IDT.</summary>
    private static void Install(Span<byte> memory)
    {
        var image = Image;
        image.RealMode.Items.AsSpan().CopyTo(memory[GuestLayout.RealModeCode..]);
        image.ProtectedMode.Items.AsSpan().CopyTo(memory[GuestLayout.ProtectedModeCode..]);
        SmmStub.Items.AsSpan().CopyTo(memory[GuestLayout.SmmEntry..]);
        ResetVectorStub.Items.AsSpan().CopyTo(memory[(GuestLayout.ResetVectorAlias + GuestLayout.ResetVectorOffset)..]);
        BinaryPrimitives.WriteUInt16LittleEndian(memory[GuestLayout.RealModeIdtr..], GuestLayout.RealModeIdtLimit);
        BinaryPrimitives.WriteUInt32LittleEndian(memory[(GuestLayout.RealModeIdtr + 2)..], GuestLayout.Ivt);
        for (var n = 0; n < 256; n++)
        {
            // IVT entry: offset (low 16 bits), segment 0; vectors above 31 share the last stub.
            var stub = image.RealModeStubs[Math.Min(n, image.RealModeStubs.Count - 1)];
            BinaryPrimitives.WriteUInt32LittleEndian(memory[(GuestLayout.Ivt + (4 * n))..], (uint)stub & 0xFFFF);
        }
        ReadOnlySpan<ulong> gdt =
        [
            0,
            GuestLayout.FlatCodeDpl0, // 0x08
            GuestLayout.FlatDataDpl0, // 0x10
            0x00CF_FA00_0000_FFFF, // 0x18 flat code, DPL3
            0x00CF_F200_0000_FFFF, // 0x20 flat data, DPL3
            0x0000_8B00_0600_0067, // 0x28 32-bit TSS (busy) at 0x600, limit 0x67
        ];
        for (var i = 0; i < gdt.Length; i++)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(memory[(GuestLayout.Gdt + (8 * i))..], gdt[i]);
        }
        var tss = memory.Slice(GuestLayout.Tss, 0x68);
        tss.Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(tss[4..], GuestLayout.Ring0StackTop); // ESP0
        BinaryPrimitives.WriteUInt32LittleEndian(tss[8..], 0x10); // SS0
        BinaryPrimitives.WriteUInt16LittleEndian(tss[0x66..], 0x68); // no I/O bitmap
        for (var n = 0; n < image.ProtectedModeStubs.Count; n++)
        {
            var offset = image.ProtectedModeStubs[n];
            // 32-bit interrupt gate, DPL0, selector 0x08.
            var gate = (offset & 0xFFFF) | (0x08ul << 16) | (0x8Eul << 40) | ((offset >> 16) << 48);
            BinaryPrimitives.WriteUInt64LittleEndian(memory[(GuestLayout.Idt + (8 * n))..], gate);
        }
    }

    private static IoctlResult<KvmSregs> SetUp(LiveVcpu vcpu, CpuidTable table)
    {
        if (vcpu.SetCpuid2(table) is IoctlResult<int>.Failed f)
        {
            return new IoctlResult<KvmSregs>.Failed(f.Call, f.Errno);
        }
        if (vcpu.GetSregs() is not IoctlResult<KvmSregs>.Ok(var s))
        {
            return new IoctlResult<KvmSregs>.Failed("KVM_GET_SREGS", 0);
        }
        // Real mode with every segment at base 0 (the RESET CS is F000:FFF0 with base 0xFFFF0000).
        s.Cs.Base = s.Ds.Base = s.Es.Base = s.Fs.Base = s.Gs.Base = s.Ss.Base = 0;
        s.Cs.Selector = s.Ds.Selector = s.Es.Selector = s.Fs.Selector = s.Gs.Selector = s.Ss.Selector = 0;
        s.Cr4 = 0;
        if (vcpu.SetSregs(s) is IoctlResult<int>.Failed g)
        {
            return new IoctlResult<KvmSregs>.Failed(g.Call, g.Errno);
        }
        var regs = new KvmRegs { Rip = Image.RealModeEntry, Rflags = 2 };
        return vcpu.SetRegs(regs) is IoctlResult<int>.Failed h ? new IoctlResult<KvmSregs>.Failed(h.Call, h.Errno) : new IoctlResult<KvmSregs>.Ok(s);
    }

    private IoctlResult<int> ReadStart()
    {
        if (vcpu.GetCpuid2() is not IoctlResult<CpuidTable>.Ok(var table))
        {
            return new IoctlResult<int>.Failed("KVM_GET_CPUID2", 0);
        }
        if (vcpu.GetSregs() is not IoctlResult<KvmSregs>.Ok(var s))
        {
            return new IoctlResult<int>.Failed("KVM_GET_SREGS", 0);
        }
        if (vcpu.GetXcrs() is not IoctlResult<Observation.Xcrs>.Ok((_, var xcr0)))
        {
            return new IoctlResult<int>.Failed("KVM_GET_XCRS", 0);
        }
        var misc = vcpu.GetMsr(Msr.MiscEnable) is IoctlResult<ulong>.Ok(var m) ? m : Msr.MiscEnableDefault;
        var features = vcpu.GetMsr(Msr.MiscFeaturesEnables) is IoctlResult<ulong>.Ok(var f) ? f : 0;
        StartTable = table;
        StartRegisters = new LiveRegisters(s.Cr4, xcr0, s.ApicBase, misc, features);
        return new IoctlResult<int>.Ok(0);
    }

    // ---- events ----

    /// <summary>Writes the command record and runs the guest until it exits; the exit.</summary>
    private IoctlResult<RunExit> RunCommand(GuestOp op, uint a, uint b, uint c)
    {
        var record = vm.Memory.Slice(GuestLayout.Command, GuestLayout.CommandSize);
        record.Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(record[GuestLayout.OpOffset..], (uint)op);
        BinaryPrimitives.WriteUInt32LittleEndian(record[GuestLayout.AOffset..], a);
        BinaryPrimitives.WriteUInt32LittleEndian(record[GuestLayout.BOffset..], b);
        BinaryPrimitives.WriteUInt32LittleEndian(record[GuestLayout.COffset..], c);
        return vcpu.Run();
    }

    /// <summary>Runs one guest command to its OUT and turns the record into an observation.</summary>
    private LiveResult Guest(GuestOp op, uint a, uint b, uint c, Func<uint[], Observation?> observe)
    {
        if (RunCommand(op, a, b, c) is not IoctlResult<RunExit>.Ok(var exit))
        {
            return new LiveResult.Failed($"KVM_RUN failed running {op}");
        }
        var faulted = exit.IsIo(GuestLayout.FaultPort);
        if (!exit.IsIo(GuestLayout.DonePort) && !faulted)
        {
            return new LiveResult.Failed($"{op}: unexpected {exit}");
        }
        if (faulted && EnterCpl3() is { } reentry)
        {
            return reentry;
        }
        var record = vm.Memory.Slice(GuestLayout.Command, GuestLayout.CommandSize);
        if (BinaryPrimitives.ReadUInt32LittleEndian(record[GuestLayout.DoneOffset..]) != 1)
        {
            return new LiveResult.Failed($"{op}: the guest exited without completing the command");
        }
        var fault = BinaryPrimitives.ReadUInt16LittleEndian(record[GuestLayout.FaultOffset..]);
        if (fault != 0)
        {
            return (fault - 1) switch
            {
                (int)X86Exception.GP => new LiveResult.Observed(new Observation.Fault(X86Exception.GP)),
                (int)X86Exception.UD => new LiveResult.Observed(new Observation.Fault(X86Exception.UD)),
                var v => new LiveResult.Failed(string.Create(CultureInfo.InvariantCulture, $"{op}: unexpected exception vector {v}")),
            };
        }
        var results = new uint[4];
        for (var i = 0; i < 4; i++)
        {
            results[i] = BinaryPrimitives.ReadUInt32LittleEndian(record[(GuestLayout.ResultOffset + (4 * i))..]);
        }
        return new LiveResult.Observed(observe(results));
    }

    /// <summary>
    /// KVM_SMI, then one KVM_RUN with a Nop command. That run delivers the SMI: <c>enter_smm</c> writes the
    /// state-save area (CR4 and CPL among it), clears CR4 through <c>set_cr4</c>, always runs
    /// <c>kvm_update_cpuid_runtime</c>, and starts the SMM entry stub, which hands over to the real-mode interpreter;
    /// the Nop then ends inside SMM at CPL0. KVM_GET_VCPU_EVENTS confirms the vCPU is in SMM.
    /// </summary>
    private LiveResult EnterSmm()
    {
        if (vcpu.Smi() is IoctlResult<int>.Failed f)
        {
            return new LiveResult.Failed(f.ToString());
        }
        var result = Guest(GuestOp.Nop, 0, 0, 0, _ => null);
        if (result is not LiveResult.Observed)
        {
            return result;
        }
        if (vcpu.InSmm() is not IoctlResult<bool>.Ok(var now) || !now)
        {
            return new LiveResult.Failed("KVM_SMI: the vCPU is not in SMM after the next KVM_RUN");
        }
        inSmm = true;
        cplBeforeSmi = cpl;
        cpl = 0;
        return result;
    }

    /// <summary>
    /// INIT as the in-kernel APIC takes it: latched through KVM_SET_VCPU_EVENTS, taken by KVM_GET_MP_STATE
    /// (<c>kvm_apic_accept_events</c> → <c>kvm_vcpu_reset(vcpu, true)</c>: CR0 = ET with CD and NW kept, CR4 and EFER 0, the reset
    /// vector; XCR0, IA32_XSS, the APIC base and MISC_ENABLE kept) without running the guest. Then the vCPU goes back to
    /// the real-mode interpreter through KVM_SET_SREGS/KVM_SET_REGS, with the CR0, CR4, EFER and APIC base INIT left.
    /// </summary>
    private LiveResult Init() => LatchInit(expectLatched: false) ?? BackToRealModeAfterInit();

    /// <summary>
    /// An INIT in SMM: latched as <see cref="Init"/> latches one, but <c>kvm_apic_accept_events</c> leaves it latched
    /// (<c>kvm_apic_init_sipi_allowed</c> is false in SMM), which KVM_GET_MP_STATE confirms; RSM takes it
    /// (<see cref="RsmTakingInit"/>).
    /// </summary>
    private LiveResult LatchInitInSmm()
    {
        if (LatchInit(expectLatched: true) is { } failed)
        {
            return failed;
        }
        initLatchedInSmm = true;
        return new LiveResult.Observed(null);
    }

    /// <summary>
    /// Latches an INIT (KVM_SET_VCPU_EVENTS with <c>smi.latched_init</c>) and lets KVM_GET_MP_STATE run
    /// <c>kvm_apic_accept_events</c>, which must take it (leaving the BSP runnable) or, where INIT is blocked
    /// (<paramref name="expectLatched"/>: SMM), leave it latched; null if it did.
    /// </summary>
    private LiveResult? LatchInit(bool expectLatched) =>
        vcpu.LatchInit() is IoctlResult<int>.Failed f ? new LiveResult.Failed(f.ToString()) : AcceptEvents(expectLatched);

    /// <summary>
    /// KVM_GET_MP_STATE (<c>kvm_apic_accept_events</c>), then the check that the INIT is still latched
    /// (<paramref name="expectLatched"/>) or was taken, and that the BSP is runnable; null if so.
    /// </summary>
    private LiveResult? AcceptEvents(bool expectLatched)
    {
        if (vcpu.GetMpState() is not IoctlResult<uint>.Ok(var mpState))
        {
            return new LiveResult.Failed("KVM_GET_MP_STATE failed");
        }
        return vcpu.InitLatched() switch
        {
            IoctlResult<bool>.Ok(var latched) when latched != expectLatched => new LiveResult.Failed(
                expectLatched ? "KVM_GET_MP_STATE took an INIT latched in SMM" : "KVM_GET_MP_STATE did not take the latched INIT"
            ),
            // An INIT leaves the BSP (vCPU 0) runnable; one left waiting for SIPI would block the next KVM_RUN.
            IoctlResult<bool>.Ok when mpState != KvmIoctl.MpStateRunnable => new LiveResult.Failed($"KVM_GET_MP_STATE: mp_state {mpState}, not runnable"),
            IoctlResult<bool>.Ok => null,
            var failed => new LiveResult.Failed(failed.ToString()),
        };
    }

    /// <summary>
    /// After a taken INIT: back to the real-mode interpreter through KVM_SET_SREGS/KVM_SET_REGS, with the CR0, CR4,
    /// EFER and APIC base the INIT left.
    /// </summary>
    private LiveResult BackToRealModeAfterInit()
    {
        if (vcpu.GetSregs() is not IoctlResult<KvmSregs>.Ok(var afterInit))
        {
            return new LiveResult.Failed("KVM_GET_SREGS failed");
        }
        var back = realModeSregs;
        back.Cr0 = afterInit.Cr0;
        if (Enter(back, new KvmRegs { Rip = Image.RealModeEntry, Rflags = 2 }) is { } failed)
        {
            return failed;
        }
        cpl = 0;
        return new LiveResult.Observed(null);
    }

    /// <summary>
    /// RSM as a guest command. In SMM <c>em_rsm</c> restores the state-save area: CR4 through <c>kvm_set_cr4</c> (an
    /// update iff OSXSAVE or PKE change), the segments and with them the CPL, so the interrupted interpreter ends
    /// the command. Outside SMM it is #UD, observed as a fault.
    /// </summary>
    private LiveResult Rsm()
    {
        if (inSmm && initLatchedInSmm)
        {
            return RsmTakingInit();
        }
        var result = Guest(GuestOp.Rsm, 0, 0, 0, _ => null);
        if (!inSmm || result is not LiveResult.Observed(null))
        {
            return result;
        }
        if (vcpu.InSmm() is not IoctlResult<bool>.Ok(var still) || still)
        {
            return new LiveResult.Failed("RSM: the vCPU is still in SMM");
        }
        inSmm = false;
        cpl = cplBeforeSmi;
        return cpl == 3 && RestoreTrType() is { } failed ? failed : result;
    }

    /// <summary>
    /// RSM with an INIT latched in SMM: leaving SMM (<c>emulator_leave_smm</c> from 6.2, <c>em_rsm</c> in 6.1) calls
    /// <c>kvm_smm_changed</c>, which requests event processing, so the next <c>vcpu_enter_guest</c> runs
    /// <c>kvm_apic_accept_events</c> before it enters the guest: the INIT is taken (<c>kvm_vcpu_reset(vcpu, true)</c>)
    /// and the vCPU starts at the reset vector, whose stub reports it (<see cref="GuestLayout.ResetVectorPort"/>). Then
    /// back to the real-mode interpreter, as after any INIT.
    /// </summary>
    private LiveResult RsmTakingInit()
    {
        if (RunCommand(GuestOp.Rsm, 0, 0, 0) is not IoctlResult<RunExit>.Ok(var exit))
        {
            return new LiveResult.Failed("KVM_RUN failed running Rsm");
        }
        if (!exit.IsIo(GuestLayout.ResetVectorPort))
        {
            return new LiveResult.Failed($"RSM with an INIT latched in SMM: expected the reset vector's OUT, got {exit}");
        }
        if (vcpu.InSmm() is not IoctlResult<bool>.Ok(false))
        {
            return new LiveResult.Failed("RSM with an INIT latched in SMM: the vCPU is still in SMM");
        }
        if (AcceptEvents(expectLatched: false) is { } failed)
        {
            return failed;
        }
        inSmm = false;
        initLatchedInSmm = false;
        return BackToRealModeAfterInit();
    }

    /// <summary>
    /// After RSM back to CPL3: <c>enter_smm</c> saved TR as <c>kvm_get_segment</c> reports it (busy on SVM,
    /// <c>svm_get_segment</c>) and RSM loaded that back, so TR gets <see cref="TrType"/> again through
    /// KVM_SET_SREGS with CR4 and the APIC base unchanged (no dynamic-CPUID input changes); null on success.
    /// </summary>
    private LiveResult? RestoreTrType()
    {
        if (vcpu.GetSregs() is not IoctlResult<KvmSregs>.Ok(var s))
        {
            return new LiveResult.Failed("KVM_GET_SREGS failed");
        }
        if (s.Tr.Type == TrType)
        {
            return null;
        }
        s.Tr.Type = TrType;
        return vcpu.SetSregs(s) is IoctlResult<int>.Failed f ? new LiveResult.Failed(f.ToString()) : null;
    }

    private static LiveResult Ioctl<T>(IoctlResult<T> result, Func<T, Observation> observe) => result switch
    {
        IoctlResult<T>.Ok(var value) => new LiveResult.Observed(observe(value)),
        IoctlResult<T>.Failed(_, var errno) => new LiveResult.Observed(new Observation.IoctlError((Errno)errno)),
        _ => throw new System.Diagnostics.UnreachableException(),
    };

    /// <summary>KVM_SET_SREGS with only CR4 and the APIC base changed (the mode and segments are kept).</summary>
    private LiveResult SetSregs(ulong cr4, ulong apicBase)
    {
        if (vcpu.GetSregs() is not IoctlResult<KvmSregs>.Ok(var s))
        {
            return new LiveResult.Failed("KVM_GET_SREGS failed");
        }
        s.Cr4 = cr4;
        s.ApicBase = apicBase;
        if (cpl == 3)
        {
            s.Tr.Type = TrType; // KVM_GET_SREGS reports TR busy on SVM (svm_get_segment); keep the CPL3 set-up's type
        }
        return Ioctl(vcpu.SetSregs(s), _ => new Observation.IoctlDone(0));
    }

    /// <summary>
    /// Moves the guest between the real-mode interpreter (CPL0) and flat 32-bit protected mode at CPL3, through
    /// KVM_SET_SREGS with CR4 and the APIC base unchanged, so no dynamic-CPUID input changes.
    /// </summary>
    private LiveResult SetCpl(byte level)
    {
        if (level is not (0 or 3))
        {
            return new LiveResult.Unsupported($"CPL{level}: the oracle has interpreters for CPL0 and CPL3 only");
        }
        if (level == cpl)
        {
            return new LiveResult.Observed(null);
        }
        if ((level == 0 ? EnterRealMode() : EnterCpl3()) is { } failed)
        {
            return failed;
        }
        cpl = level;
        return new LiveResult.Observed(null);
    }

    /// <summary>Back to the real-mode interpreter at CPL0, CR4, EFER and the APIC base unchanged; null on success.</summary>
    private LiveResult? EnterRealMode() => Enter(realModeSregs, new KvmRegs { Rip = Image.RealModeEntry, Rflags = 2 });

    /// <summary>
    /// The CPL3 interpreter's loop in flat 32-bit protected mode (IOPL 3 for its OUT), CR4, EFER and the APIC base
    /// unchanged; null on success. Also how a faulted CPL3 command resumes (see <see cref="GuestLayout.FaultPort"/>).
    /// </summary>
    private LiveResult? EnterCpl3()
    {
        if (vcpu.GetSregs() is not IoctlResult<KvmSregs>.Ok(var next))
        {
            return new LiveResult.Failed("KVM_GET_SREGS failed");
        }
        var code = new KvmSegment { Limit = 0xFFFF_FFFF, Selector = 0x1B, Type = 0xB, Present = 1, Dpl = 3, Db = 1, S = 1, G = 1 };
        var data = code with { Selector = 0x23, Type = 0x3 };
        next.Cs = code;
        next.Ds = next.Es = next.Fs = next.Gs = next.Ss = data;
        next.Tr = new KvmSegment { Base = GuestLayout.Tss, Limit = 0x67, Selector = 0x28, Type = TrType, Present = 1 };
        next.Ldt = new KvmSegment { Unusable = 1 };
        next.Gdt = new KvmDtable { Base = GuestLayout.Gdt, Limit = (6 * 8) - 1 };
        next.Idt = new KvmDtable { Base = GuestLayout.Idt, Limit = (32 * 8) - 1 };
        next.Cr0 = Cr0Pe | Cr0Et;
        return Enter(next, new KvmRegs { Rip = Image.ProtectedModeEntry, Rsp = GuestLayout.Ring3StackTop, Rflags = 0x3002 }); // IOPL 3
    }

    /// <summary>
    /// The 32-bit TSS type TR gets at CPL3: busy (11) as VM entry on VMX requires, but available (9) under kvm_amd,
    /// whose VMRUN does not check it: QEMU's TCG (the 6.1 guest's CPU) delivers a CPL3 fault only through an
    /// available TSS and otherwise aborts with "invalid tss type".
    /// </summary>
    private byte TrType => Kernel.VendorModule == "kvm_amd" ? (byte)0x9 : (byte)0xB;

    /// <summary>KVM_SET_SREGS (keeping the current CR4 and APIC base) and KVM_SET_REGS; null on success.</summary>
    private LiveResult? Enter(KvmSregs next, KvmRegs regs)
    {
        if (vcpu.GetSregs() is not IoctlResult<KvmSregs>.Ok(var current))
        {
            return new LiveResult.Failed("KVM_GET_SREGS failed");
        }
        next.Cr4 = current.Cr4;
        next.ApicBase = current.ApicBase;
        next.Efer = current.Efer; // the MSR writes' EFER (neither interpreter uses long mode)
        if (vcpu.SetSregs(next) is IoctlResult<int>.Failed f)
        {
            return new LiveResult.Failed(f.ToString());
        }
        return vcpu.SetRegs(regs) is IoctlResult<int>.Failed g ? new LiveResult.Failed(g.ToString()) : null;
    }
}
