using System.Globalization;
using CpuidFunctional.Core.Cpuid;

namespace CpuidFunctional.Core.State;

/// <summary>
/// Everything that can happen to a vCPU that matters to dynamic CPUID: guest instructions KVM intercepts or
/// emulates, userspace ioctls, mode switches and the nested CR4 loads. A closed union: only the nested cases exist.
/// </summary>
public abstract record VcpuEvent
{
    private VcpuEvent() { }

    private static string Hex(ulong v) => "0x" + v.ToString("x", CultureInfo.InvariantCulture);

    // ---- guest instructions (L0 emulates them for the level currently running) ----

    /// <summary>Guest MOV to CR4 (<c>kvm_set_cr4</c> then the vendor <c>set_cr4</c>): #GP on reserved bits.</summary>
    public sealed record MovToCr4(ulong Value) : VcpuEvent
    {
        /// <inheritdoc/>
        public override string ToString() => $"MOV CR4, {Hex(Value)}";
    }

    /// <summary>Guest XSETBV (<c>kvm_emulate_xsetbv</c>, <c>__kvm_set_xcr</c>): #UD without CR4.OSXSAVE, #GP for CPL &gt; 0 or an invalid value.</summary>
    public sealed record Xsetbv(uint Index, ulong Value) : VcpuEvent
    {
        /// <inheritdoc/>
        public override string ToString() => $"XSETBV XCR{Index}, {Hex(Value)}";
    }

    /// <summary>Guest WRMSR (<c>kvm_set_msr</c>): #GP when refused.</summary>
    public sealed record Wrmsr(uint Index, ulong Value) : VcpuEvent
    {
        /// <inheritdoc/>
        public override string ToString() => $"WRMSR {Hex(Index)}, {Hex(Value)}";
    }

    /// <summary>
    /// Guest XGETBV of XCR0 (ECX = 0). Not intercepted: the CPU reads the XCR0 KVM loaded for the guest; #UD without
    /// CR4.OSXSAVE.
    /// </summary>
    public sealed record XgetbvXcr0 : VcpuEvent
    {
        /// <inheritdoc/>
        public override string ToString() => "XGETBV XCR0";
    }

    /// <summary>Guest RDMSR (<c>kvm_get_msr</c>): the value, or #GP.</summary>
    public sealed record Rdmsr(uint Index) : VcpuEvent
    {
        /// <inheritdoc/>
        public override string ToString() => $"RDMSR {Hex(Index)}";
    }

    /// <summary>Guest CPUID (<c>kvm_emulate_cpuid</c>): #GP if faulting, else materializes and answers. An observation point.</summary>
    public sealed record Cpuid(uint Leaf, uint Subleaf) : VcpuEvent
    {
        /// <inheritdoc/>
        public override string ToString() => $"CPUID {Hex(Leaf)}.{Hex(Subleaf)}";
    }

    /// <summary>Guest MONITOR/MWAIT (<c>kvm_emulate_monitor_mwait</c>): NOP or #UD.</summary>
    public sealed record MonitorMwait : VcpuEvent
    {
        /// <inheritdoc/>
        public override string ToString() => "MWAIT";
    }

    /// <summary>The guest changes privilege level (an IRET, SYSRET or far transfer the model does not decode).</summary>
    public sealed record SetCpl(byte Cpl) : VcpuEvent
    {
        /// <inheritdoc/>
        public override string ToString() => $"CPL {Cpl}";
    }

    /// <summary>SMI delivered: <c>enter_smm</c> saves state, clears CR4 and always sets the marker.</summary>
    public sealed record EnterSmm : VcpuEvent
    {
        /// <inheritdoc/>
        public override string ToString() => "SMI";
    }

    /// <summary>RSM: restores CR4 from SMRAM through <c>kvm_set_cr4</c>; #UD outside SMM.</summary>
    public sealed record Rsm : VcpuEvent
    {
        /// <inheritdoc/>
        public override string ToString() => "RSM";
    }

    /// <summary>INIT (<c>kvm_vcpu_reset(vcpu, true)</c>): only CR4 ← 0 among the inputs.</summary>
    public sealed record Init : VcpuEvent
    {
        /// <inheritdoc/>
        public override string ToString() => "INIT";
    }

    /// <summary>RESET (<c>kvm_vcpu_reset(vcpu, false)</c>): APIC base, XCR0, XSS, MISC_ENABLE and CR4 to their RESET values.</summary>
    public sealed record Reset : VcpuEvent
    {
        /// <inheritdoc/>
        public override string ToString() => "RESET";
    }

    /// <summary>
    /// SEV-ES <c>sev_es_sync_from_ghcb</c> with a valid XCR0 in the GHCB and, if not null, a valid IA32_XSS. The sync
    /// also loads the CPL: the GHCB's if it marks it valid, else 0 (<see cref="Cpl"/>, 0 by default).
    /// </summary>
    public sealed record SevEsSyncFromGhcb(ulong Xcr0, ulong? Xss = null) : VcpuEvent
    {
        /// <summary>
        /// The CPL the sync loads (<c>kvm_ghcb_get_cpl_if_valid</c>): the GHCB's valid CPL, or 0. KVM copies the byte; the
        /// model keeps its low two bits, as everywhere it holds a CPL.
        /// </summary>
        public byte Cpl { get; init; }

        /// <inheritdoc/>
        public override string ToString() =>
            (Xss is { } xss ? $"SEV-ES GHCB XCR0={Hex(Xcr0)} XSS={Hex(xss)}" : $"SEV-ES GHCB XCR0={Hex(Xcr0)}") + (Cpl != 0 ? $" CPL={Cpl}" : "");
    }

    /// <summary>
    /// Guest IN or OUT of <paramref name="Size"/> bytes (1, 2 or 4) at an I/O port with no in-kernel device (a selftest
    /// ucall is an IN, kvm-unit-tests' exit an OUT): KVM_RUN returns to userspace with KVM_EXIT_IO. <paramref name="Value"/>
    /// is what OUT writes (0 for IN). The I/O permission check at CPL &gt; 0 (IOPL, the TSS bitmap) is not modelled:
    /// the access is taken as allowed.
    /// </summary>
    public sealed record PortIo(bool IsIn, ushort Port, byte Size, uint Value) : VcpuEvent
    {
        /// <inheritdoc/>
        public override string ToString() => IsIn ? $"IN port={Hex(Port)} size={Size}" : $"OUT port={Hex(Port)} size={Size} value={Hex(Value)}";
    }

    /// <summary>Guest HLT: #GP at CPL &gt; 0; otherwise the vCPU halts in KVM (the model's VMs have an in-kernel local APIC).</summary>
    public sealed record Hlt : VcpuEvent
    {
        /// <inheritdoc/>
        public override string ToString() => "HLT";
    }

    /// <summary>
    /// A triple fault: an exception the guest could not deliver shut the processor down (the model has no IDT, so a
    /// scenario says when). KVM_RUN returns KVM_EXIT_SHUTDOWN, or L1 gets the exit.
    /// </summary>
    public sealed record TripleFault : VcpuEvent
    {
        /// <inheritdoc/>
        public override string ToString() => "triple fault";
    }

    // ---- nested VMX transitions (the interpreter emits these) ----

    /// <summary>
    /// Nested VM-entry: <c>prepare_vmcs02</c> loads vmcs12 GUEST_CR4 through <c>vmx_set_cr4</c>, then the VM-entry
    /// MSR-load list goes through <c>kvm_set_msr</c>. On an MSR failure the observation says which entry; the
    /// caller then performs the VM-exit (<see cref="NestedVmExit"/>), as <c>load_vmcs12_host_state</c> does.
    /// The entry's checks passed (<c>nested_vmx_check_guest_state</c>), so GUEST_CR4 has no bit of 63:32
    /// (<see cref="Cr4.UpperHalf"/>); with one, <c>Kvm.Step</c> throws <see cref="ArgumentOutOfRangeException"/>.
    /// </summary>
    public sealed record NestedVmEntry(ulong GuestCr4, ValueArray<MsrEntry> MsrLoad) : VcpuEvent
    {
        /// <summary>An entry without MSR-load list.</summary>
        public NestedVmEntry(ulong guestCr4)
            : this(guestCr4, ValueArray<MsrEntry>.Empty) { }

        /// <summary>vmcs12 CR4_GUEST_HOST_MASK: the CR4 bits L1 owns while L2 runs (0: none, every L2 MOV to CR4 is L0's).</summary>
        public ulong Cr4GuestHostMask { get; init; }

        /// <summary>vmcs12 CR4_READ_SHADOW: what L2 reads, and must keep writing, in the bits L1 owns.</summary>
        public ulong Cr4ReadShadow { get; init; }

        /// <inheritdoc/>
        public override string ToString() =>
            $"VM-ENTRY guest CR4={Hex(GuestCr4)}"
            + (Cr4GuestHostMask == 0 && Cr4ReadShadow == 0 ? "" : $" mask={Hex(Cr4GuestHostMask)} shadow={Hex(Cr4ReadShadow)}")
            + (MsrLoad.Count == 0 ? "" : $" msrs={MsrLoad}");
    }

    /// <summary>
    /// Nested VM-exit: <c>load_vmcs12_host_state</c> loads HOST_CR4 through <c>vmx_set_cr4</c>, then the VM-exit MSR-load
    /// list (failure: VMX abort). HOST_CR4 passed <c>nested_vmx_check_host_state</c> at the VM entry, so it has no bit
    /// of 63:32 (<see cref="Cr4.UpperHalf"/>); with one, <c>Kvm.Step</c> throws <see cref="ArgumentOutOfRangeException"/>.
    /// </summary>
    public sealed record NestedVmExit(ulong HostCr4, ValueArray<MsrEntry> MsrLoad) : VcpuEvent
    {
        /// <summary>An exit without MSR-load list.</summary>
        public NestedVmExit(ulong hostCr4)
            : this(hostCr4, ValueArray<MsrEntry>.Empty) { }

        /// <inheritdoc/>
        public override string ToString() =>
            MsrLoad.Count == 0 ? $"VM-EXIT host CR4={Hex(HostCr4)}" : $"VM-EXIT host CR4={Hex(HostCr4)} msrs={MsrLoad}";
    }

    // ---- nested SVM transitions (the interpreter emits these) ----

    /// <summary>
    /// VMRUN (<c>nested_svm_vmrun</c>) after its consistency checks passed: L1's CR4 is saved in vmcb01, then
    /// <c>enter_svm_guest_mode</c> → <c>nested_vmcb02_prepare_save</c> loads vmcb12's save.cr4 through
    /// <c>svm_set_cr4</c>; L0 keeps vmcb12's CPUID/XSETBV intercepts. In L2 it exits to L1 (VMRUN is a mandatory
    /// vmcb12 intercept). save.cr4 passed <c>nested_vmcb_check_save</c>, so it has no bit of 63:32
    /// (<see cref="Cr4.UpperHalf"/>); with one, <c>Kvm.Step</c> throws <see cref="ArgumentOutOfRangeException"/>.
    /// </summary>
    public sealed record NestedSvmVmrun(ulong SaveCr4, Vmcb12Intercepts Intercepts) : VcpuEvent
    {
        /// <inheritdoc/>
        public override string ToString() => $"VMRUN save.cr4={Hex(SaveCr4)} intercepts={Intercepts}";
    }

    /// <summary>
    /// #VMEXIT to L1 (<c>nested_svm_vmexit</c>): leaves guest mode and restores L1's CR4 from vmcb01 through
    /// <c>svm_set_cr4</c>. Nothing happens outside SVM guest mode.
    /// </summary>
    public sealed record NestedSvmVmexit : VcpuEvent
    {
        /// <inheritdoc/>
        public override string ToString() => "#VMEXIT";
    }

    // ---- userspace ioctls ----

    /// <summary>
    /// KVM_SET_SREGS: CR0, CR4 and EFER checked together, then the APIC base (host-initiated rules), CR0 and CR4; EINVAL,
    /// with nothing changed, if any is invalid.
    /// </summary>
    public sealed record SetSregs(ulong Cr4, ulong ApicBase) : VcpuEvent
    {
        /// <summary>CR0 to write, or null for the vCPU's current CR0 (a VMM round-tripping KVM_GET_SREGS).</summary>
        public ulong? Cr0 { get; init; }

        /// <summary>EFER to write, or null for the current one.</summary>
        public ulong? Efer { get; init; }

        /// <inheritdoc/>
        public override string ToString() =>
            $"KVM_SET_SREGS {(Cr0 is { } cr0 ? $"cr0={Hex(cr0)} " : "")}cr4={Hex(Cr4)}{(Efer is { } efer ? $" efer={Hex(efer)}" : "")} apic_base={Hex(ApicBase)}";
    }

    /// <summary>Guest MOV from CR4: CR4 as the running level sees it; #GP at CPL &gt; 0. Not intercepted, nothing changes.</summary>
    public sealed record MovFromCr4 : VcpuEvent
    {
        /// <inheritdoc/>
        public override string ToString() => "MOV from CR4";
    }

    /// <summary>
    /// KVM_SET_XCRS (<c>kvm_vcpu_ioctl_x86_set_xcrs</c>) with <see cref="Xcrs"/> as <c>nr_xcrs</c> entries and
    /// <see cref="Flags"/>: EINVAL for more than <see cref="Xcr0.KvmMaxXcrs"/> entries, non-zero flags or an XCR0
    /// <c>__kvm_set_xcr</c> refuses; only the first XCR0 entry is set, every other entry is ignored (<see cref="Xcr0.FirstSetXcrsEntry"/>).
    /// </summary>
    public sealed record SetXcrs(ValueArray<XcrEntry> Xcrs) : VcpuEvent
    {
        /// <summary>KVM_SET_XCRS with one entry, XCR0 = <paramref name="xcr0"/> (what a VMM restoring a vCPU passes).</summary>
        public SetXcrs(ulong xcr0)
            : this(new ValueArray<XcrEntry>([new XcrEntry(0, xcr0)]))
        {
        }

        /// <summary><c>kvm_xcrs.flags</c>; KVM defines none, so anything but 0 is EINVAL.</summary>
        public uint Flags { get; init; }

        /// <inheritdoc/>
        public override string ToString() =>
            Xcrs.Count == 0 ? $"KVM_SET_XCRS nr_xcrs=0{FlagsText}" : $"KVM_SET_XCRS {string.Join(' ', Xcrs.Items)}{FlagsText}";

        private string FlagsText => Flags == 0 ? "" : $" flags={Hex(Flags)}";
    }

    /// <summary>KVM_SET_MSRS: host-initiated writes in order, stopping at the first refused one; returns how many were set.</summary>
    public sealed record SetMsrs(ValueArray<MsrEntry> Entries) : VcpuEvent
    {
        /// <inheritdoc/>
        public override string ToString() => $"KVM_SET_MSRS {Entries}";
    }

    /// <summary>KVM_SET_CPUID2 (<c>kvm_set_cpuid</c>): E2BIG, EINVAL or success.</summary>
    public sealed record SetCpuid2(CpuidTable Table) : VcpuEvent
    {
        /// <inheritdoc/>
        public override string ToString() => $"KVM_SET_CPUID2 nent={Table.Count}";
    }

    /// <summary>KVM_GET_CPUID2 with a buffer of <paramref name="Nent"/> entries: E2BIG if too small (before materializing). An observation point.</summary>
    public sealed record GetCpuid2(int Nent) : VcpuEvent
    {
        /// <inheritdoc/>
        public override string ToString() => $"KVM_GET_CPUID2 nent={Nent}";
    }

    /// <summary>KVM_GET_SREGS (<c>__get_sregs_common</c>): the modelled part, CR4 and the APIC base.</summary>
    public sealed record GetSregs : VcpuEvent
    {
        /// <inheritdoc/>
        public override string ToString() => "KVM_GET_SREGS";
    }

    /// <summary>
    /// KVM_ENABLE_CAP(KVM_CAP_X86_DISABLE_EXITS, <paramref name="Mask"/>), a VM ioctl, made while the vCPU exists:
    /// EINVAL from 6.14 (<c>created_vcpus</c>), which takes it only before KVM_CREATE_VCPU
    /// (<see cref="Model.DisableExits.Enable"/>); 6.1 takes it.
    /// </summary>
    public sealed record DisableExits(ulong Mask) : VcpuEvent
    {
        /// <inheritdoc/>
        public override string ToString() => $"KVM_CAP_X86_DISABLE_EXITS {Hex(Mask)}";
    }

    /// <summary>KVM_GET_XCRS (<c>kvm_vcpu_ioctl_x86_get_xcrs</c>): XCR0, or no register without host XSAVE.</summary>
    public sealed record GetXcrs : VcpuEvent
    {
        /// <inheritdoc/>
        public override string ToString() => "KVM_GET_XCRS";
    }

    /// <summary>KVM_GET_MSRS (<c>__msr_io</c> with <c>kvm_get_msr_common</c>, host-initiated): reads until the first refusal.</summary>
    public sealed record GetMsrs(ValueArray<uint> Indices) : VcpuEvent
    {
        /// <inheritdoc/>
        public override string ToString() => $"KVM_GET_MSRS [{string.Join(", ", Indices.Select(i => Hex(i)))}]";
    }

    /// <summary>KVM_ENABLE_CAP(KVM_CAP_DISABLE_QUIRKS2): OR-s the mask into the disabled quirks; EINVAL for unknown bits.</summary>
    public sealed record DisableQuirks2(ulong Mask) : VcpuEvent
    {
        /// <inheritdoc/>
        public override string ToString() => $"KVM_CAP_DISABLE_QUIRKS2 {Hex(Mask)}";
    }

    /// <summary>KVM_RUN entered the guest (from now on KVM_SET_CPUID2 must not change the table).</summary>
    public sealed record Run : VcpuEvent
    {
        /// <inheritdoc/>
        public override string ToString() => "KVM_RUN";
    }
}
