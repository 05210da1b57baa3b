using System.Collections.Immutable;
using System.Globalization;
using CpuidFunctional.Core.Cpuid;
using CpuidFunctional.Core.Host;
using CpuidFunctional.Core.Model;
using CpuidFunctional.Core.State;

namespace CpuidFunctional.Core.Scenarios;

/// <summary>
/// Reads the scenario format of docs/scenarios.md: one step per line, <c>#</c> starts a comment. Pure: text in,
/// a <see cref="Scenario"/> or a <see cref="ParseError"/> naming the source and line out.
/// </summary>
public static class ScenarioParser
{
    private static readonly Dictionary<string, ulong> ValueNames = new(StringComparer.OrdinalIgnoreCase)
    {
        // CR4
        ["PAE"] = Cr4.Pae,
        ["OSFXSR"] = Cr4.OsFxsr,
        ["OSXMMEXCPT"] = Cr4.OsXmmExcpt,
        ["UMIP"] = Cr4.Umip,
        ["LA57"] = Cr4.La57,
        ["VMXE"] = Cr4.Vmxe,
        ["FSGSBASE"] = Cr4.FsGsBase,
        ["PCIDE"] = Cr4.Pcide,
        ["OSXSAVE"] = Cr4.OsXsave,
        ["SMEP"] = Cr4.Smep,
        ["SMAP"] = Cr4.Smap,
        ["PKE"] = Cr4.Pke,
        ["CET"] = Cr4.Cet,
        ["PKS"] = Cr4.Pks,
        ["SMXE"] = Cr4.Smxe,
        // XCR0 groups
        ["X87"] = Xcr0.Fp,
        ["SSE"] = Xcr0.Sse,
        ["AVX"] = Xcr0.Ymm,
        ["MPX"] = Xcr0.Bndregs | Xcr0.Bndcsr,
        ["AVX512"] = Xcr0.Avx512,
        ["PKRU"] = Xcr0.Pkru,
        ["AMX"] = Xcr0.Xtile,
        // IA32_XSS components
        ["PT"] = Xss.Pt,
        ["PASID"] = 1ul << 10,
        ["CET_U"] = Xss.CetUser,
        ["CET_S"] = Xss.CetKernel,
        ["ARCH_LBR"] = 1ul << 15,
        // MSR values and bits
        ["APIC_DEFAULT"] = Msr.ApicBaseDefault,
        ["APIC_EN"] = Msr.ApicBaseEnable,
        ["APIC_EXTD"] = Msr.ApicBaseExtd,
        ["APIC_BSP"] = Msr.ApicBaseBsp,
        ["MISC_DEFAULT"] = Msr.MiscEnableDefault,
        ["MISC_MWAIT"] = Msr.MiscEnableMwait,
        ["CPUID_FAULT"] = Msr.MiscFeaturesCpuidFault,
        // quirks
        ["MISC_ENABLE_NO_MWAIT"] = (ulong)KvmQuirks.MiscEnableNoMwait,
        ["MWAIT_NEVER_UD_FAULTS"] = (ulong)KvmQuirks.MwaitNeverUdFaults,
        // KVM_CAP_X86_DISABLE_EXITS
        ["EXIT_MWAIT"] = DisableExits.Mwait,
        ["EXIT_HLT"] = DisableExits.Hlt,
        ["EXIT_PAUSE"] = DisableExits.Pause,
        ["EXIT_CSTATE"] = DisableExits.Cstate,
        ["EXIT_APERFMPERF"] = DisableExits.AperfMperf,
    };

    private static readonly Dictionary<string, uint> MsrNames = new(StringComparer.OrdinalIgnoreCase)
    {
        ["APIC_BASE"] = Msr.ApicBase,
        ["EFER"] = Msr.Efer,
        ["MISC_ENABLE"] = Msr.MiscEnable,
        ["XSS"] = Msr.Xss,
        ["MISC_FEATURES_ENABLES"] = Msr.MiscFeaturesEnables,
        ["TSX_CTRL"] = Msr.TsxCtrl,
        ["PLATFORM_INFO"] = Msr.PlatformInfo,
    };

    /// <summary>The dynamic bits by name, for <c>expect REG.NAME=0|1</c>-style checks (register and bit).</summary>
    private static readonly Dictionary<string, (CpuidRegister Register, int Bit)> BitNames = new(StringComparer.OrdinalIgnoreCase)
    {
        ["OSXSAVE"] = (CpuidRegister.Ecx, 27),
        ["MWAIT"] = (CpuidRegister.Ecx, 3),
        ["APIC"] = (CpuidRegister.Edx, 9),
        ["OSPKE"] = (CpuidRegister.Ecx, 4),
    };

    /// <summary>Parses a scenario.</summary>
    /// <param name="text">The file's text.</param>
    /// <param name="source">The file name used in messages.</param>
    public static Result<Scenario> Parse(string text, string source)
    {
        HostSpec? host = null;
        var hostLine = 0;
        var profile = KernelProfile.Linux6_18;
        var xcompGuestPerm = true;
        var xcompGuestPermLine = 0;
        var steps = ImmutableArray.CreateBuilder<ScenarioStep>();
        var caughtBy = new List<CaughtBy>();
        if (TextLines.Check(text, source) is { } endings)
        {
            return new Result<Scenario>.Error(endings);
        }
        var lines = TextLines.Split(text);
        for (var n = 0; n < lines.Length; n++)
        {
            var line = lines[n];
            var content = StripComment(line).Trim();
            if (content.Length == 0)
            {
                continue;
            }
            var words = content.Split((char[])[' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            var lineNo = n + 1;
            string? error;
            switch (words[0].ToLowerInvariant())
            {
                case "host":
                    if (host is not null)
                    {
                        return Fail(source, lineNo, "a second 'host' line: a scenario runs on one host");
                    }
                    if (words.Length == 2)
                    {
                        host = new HostSpec.Preset(words[1]);
                        hostLine = lineNo;
                    }
                    else if (words.Length == 3 && words[1].Equals("dump", StringComparison.OrdinalIgnoreCase))
                    {
                        host = new HostSpec.Dump(words[2]);
                        hostLine = lineNo;
                    }
                    else
                    {
                        return Fail(source, lineNo, "expected 'host PRESET' or 'host dump PATH'");
                    }
                    continue;
                case "caught-by":
                    if (words.Length < 2)
                    {
                        return Fail(source, lineNo, "expected 'caught-by VARIANT...' (the wrong variants this scenario must catch)");
                    }
                    caughtBy.AddRange(words.Skip(1).Select(name => new CaughtBy(lineNo, name)));
                    continue;
                case "kernel":
                    if (steps.Any(s => s is ScenarioStep.NewVm))
                    {
                        return Fail(source, lineNo, "a 'kernel' line after a 'vm' line: give a later VM its kernel as 'vm kernel 6.x'");
                    }
                    if (words.Length != 2 || Kernel(words[1]) is not { } p)
                    {
                        return Fail(source, lineNo, $"expected 'kernel 6.1', 'kernel 6.15' or 'kernel 6.18', found '{content}'");
                    }
                    profile = p;
                    continue;
                case "xcomp-guest-perm":
                    // The permission is the process's, and its first vCPU locks it: so once per file, before any step.
                    if (steps.Count > 0)
                    {
                        return Fail(source, lineNo, $"'xcomp-guest-perm' after line {steps[0].Line}: the process asks before its first vCPU exists, so it comes before every step");
                    }
                    if (xcompGuestPermLine != 0)
                    {
                        return Fail(source, lineNo, $"a second 'xcomp-guest-perm' line (the first is line {xcompGuestPermLine}): the process asks once");
                    }
                    xcompGuestPermLine = lineNo;
                    if (words.Length != 2 || words[1].ToLowerInvariant() is not ("none" or "xtile-data"))
                    {
                        return Fail(source, lineNo, $"expected 'xcomp-guest-perm none' or 'xcomp-guest-perm xtile-data', found '{content}'");
                    }
                    xcompGuestPerm = words[1].Equals("xtile-data", StringComparison.OrdinalIgnoreCase);
                    continue;
                case "vm":
                    error = ParseVm(words, lineNo, steps);
                    break;
                case "create-vcpu":
                    error = ParseCreateVcpu(words, lineNo, steps);
                    break;
                case "expect":
                    error = ParseExpect(words, content, lineNo, steps);
                    break;
                case "guest-cpuid":
                    error = ParseEdit(words, lineNo, steps);
                    break;
                default:
                    error = ParseStep(words, lineNo, steps);
                    break;
            }
            if (error is not null)
            {
                return Fail(source, lineNo, error);
            }
        }
        if (host is null)
        {
            return Fail(source, 0, "no 'host' line: name a preset ('host skylake-sp') or a dump ('host dump FILE')");
        }
        return new Result<Scenario>.Ok(new Scenario(source, host, profile, steps.ToImmutable()) { CaughtBy = new([.. caughtBy]), HostLine = hostLine, XcompGuestPermRequested = xcompGuestPerm });
    }

    /// <summary>
    /// A comment is a '#' that starts the line or follows whitespace, and is followed by whitespace or the end of the
    /// line (so <c>#GP</c> and <c>#UD</c> stay words); a line whose first non-blank character is '#' is all comment.
    /// </summary>
    private static string StripComment(string line)
    {
        var trimmed = line.TrimStart();
        if (trimmed.StartsWith('#'))
        {
            return "";
        }
        for (var i = 0; i < line.Length; i++)
        {
            if (line[i] == '#' && (i == 0 || char.IsWhiteSpace(line[i - 1])) && (i + 1 == line.Length || char.IsWhiteSpace(line[i + 1])))
            {
                return line[..i];
            }
        }
        return line;
    }

    private static KernelProfile? Kernel(string version) =>
        version switch
        {
            "6.1" => KernelProfile.Linux6_1,
            "6.15" => KernelProfile.Linux6_15,
            "6.18" => KernelProfile.Linux6_18,
            _ => null,
        };

    /// <summary>A capability as a scenario writes it: its KVM name without the <c>KVM_CAP_</c> prefix (<c>XSAVE2</c>).</summary>
    private static string CapabilityWord(KvmCapability capability) => CapabilityWord(CheckExtension.KvmName(capability));

    private static string CapabilityWord(string name) =>
        name.StartsWith("KVM_CAP_", StringComparison.OrdinalIgnoreCase) ? name["KVM_CAP_".Length..] : name;

    /// <summary>The steps of the current VM: those after the last <c>vm</c> line (all of them before the first).</summary>
    private static IEnumerable<ScenarioStep> CurrentVm(ImmutableArray<ScenarioStep>.Builder steps) =>
        Enumerable.Reverse(steps).TakeWhile(s => s is not ScenarioStep.NewVm);

    /// <summary>The steps <see cref="IsVmLevel"/> lets come before <c>create-vcpu</c>, as its error names them.</summary>
    private const string VmLevelSteps = "disable-quirks2, disable-exits, guest-cpuid, get-supported-cpuid, check-extension and their expects";

    /// <summary>
    /// Whether a step needs no vCPU: a VM ioctl (KVM_CAP_DISABLE_QUIRKS2, KVM_CAP_X86_DISABLE_EXITS), a system ioctl
    /// (KVM_GET_SUPPORTED_CPUID, KVM_CHECK_EXTENSION), a table edit in userspace, or a check of one of those
    /// (<see cref="VmLevelSteps"/>).
    /// </summary>
    private static bool IsVmLevel(ScenarioStep step) =>
        step is ScenarioStep.Edit or ScenarioStep.Expect or ScenarioStep.GetSupportedCpuid or ScenarioStep.CheckExtension or ScenarioStep.Apply(_, VcpuEvent.DisableQuirks2 or VcpuEvent.DisableExits);

    /// <summary><c>vm [kernel 6.x]</c>: a new VM on the same host, with the file's kernel unless given.</summary>
    private static string? ParseVm(string[] w, int line, ImmutableArray<ScenarioStep>.Builder steps)
    {
        if (w.Length == 1)
        {
            steps.Add(new ScenarioStep.NewVm(line, null));
            return null;
        }
        if (w.Length == 3 && w[1].Equals("kernel", StringComparison.OrdinalIgnoreCase) && Kernel(w[2]) is { } p)
        {
            steps.Add(new ScenarioStep.NewVm(line, p));
            return null;
        }
        return "usage: vm [kernel 6.1|6.15|6.18] (a new VM with one vCPU on the same host)";
    }

    /// <summary><c>create-vcpu</c>: only steps that need no vCPU (<see cref="IsVmLevel"/>) may come before it in its VM.</summary>
    private static string? ParseCreateVcpu(string[] w, int line, ImmutableArray<ScenarioStep>.Builder steps)
    {
        if (w.Length != 1)
        {
            return "usage: create-vcpu";
        }
        if (CurrentVm(steps).FirstOrDefault(s => !IsVmLevel(s)) is { } before)
        {
            return $"create-vcpu after line {before.Line}, which needs the vCPU: only {VmLevelSteps} may come before it";
        }
        steps.Add(new ScenarioStep.CreateVcpu(line));
        return null;
    }

    private static Result<Scenario> Fail(string source, int line, string message) =>
        new Result<Scenario>.Error(new ParseError(source, line, message));

    private static string? ParseStep(string[] w, int line, ImmutableArray<ScenarioStep>.Builder steps)
    {
        var verb = w[0].ToLowerInvariant();
        void Add(VcpuEvent e) => steps.Add(new ScenarioStep.Apply(line, e));
        string? Arity(int min, int max, string usage) => w.Length - 1 < min || w.Length - 1 > max ? $"usage: {usage}" : null;

        switch (verb)
        {
            case "run":
                return Arity(0, 0, "run") ?? Done(() => Add(new VcpuEvent.Run()));
            case "set-cpuid2":
                return Arity(0, 0, "set-cpuid2") ?? Done(() => steps.Add(new ScenarioStep.SetCpuid2(line)));
            case "get-cpuid2":
                {
                    if (Arity(0, 1, "get-cpuid2 [NENT]") is { } usage)
                    {
                        return usage;
                    }
                    var nent = (ulong)CpuidTable.MaxEntries;
                    if (w.Length == 2 && Value(w[1], out nent) is { } bad)
                    {
                        return bad;
                    }
                    if (nent > uint.MaxValue)
                    {
                        return $"nent {w[1]} does not fit in kvm_cpuid2's 32-bit nent";
                    }
                    // Any nent at or above the table size answers alike (KVM only compares it with cpuid_nent).
                    return Done(() => Add(new VcpuEvent.GetCpuid2((int)Math.Min(nent, int.MaxValue))));
                }
            case "set-sregs":
                {
                    if (w.Length < 2)
                    {
                        return "usage: set-sregs [cr0=VALUE] [cr4=VALUE] [efer=VALUE] [apic-base=VALUE] (the others keep their values)";
                    }
                    var error = SregsTerms(w, "set-sregs", out var sregs);
                    return error ?? Done(() => steps.Add(new ScenarioStep.SetSregs(line, sregs.Cr0, sregs.Cr4, sregs.Efer, sregs.ApicBase)));
                }
            case "mov-from-cr4":
                return Arity(0, 0, "mov-from-cr4") ?? Done(() => Add(new VcpuEvent.MovFromCr4()));
            case "set-xcrs":
                {
                    if (w.Length == 2 && !w[1].Contains('=', StringComparison.Ordinal))
                    {
                        return OneValue(w[1], v => Add(new VcpuEvent.SetXcrs(v)));
                    }
                    var error = XcrList(w.AsSpan(1), out var xcrs, out var flags);
                    return error ?? Done(() => Add(new VcpuEvent.SetXcrs(xcrs) { Flags = flags }));
                }
            case "set-msrs":
                {
                    if (w.Length < 2)
                    {
                        return "usage: set-msrs MSR=VALUE [MSR=VALUE ...]";
                    }
                    var entries = MsrList(w.AsSpan(1), out var error);
                    return error ?? Done(() => Add(new VcpuEvent.SetMsrs(entries)));
                }
            case "get-sregs":
                return Arity(0, 0, "get-sregs") ?? Done(() => Add(new VcpuEvent.GetSregs()));
            case "get-xcrs":
                return Arity(0, 0, "get-xcrs") ?? Done(() => Add(new VcpuEvent.GetXcrs()));
            case "xgetbv":
                return Arity(0, 0, "xgetbv (reads XCR0; XCR1, XINUSE, is not modelled)") ?? Done(() => Add(new VcpuEvent.XgetbvXcr0()));
            case "get-msrs":
                {
                    if (w.Length < 2)
                    {
                        return "usage: get-msrs MSR [MSR ...]";
                    }
                    var indices = new List<uint>();
                    foreach (var text in w.Skip(1))
                    {
                        if (MsrIndex(text, out var index) is { } bad)
                        {
                            return bad;
                        }
                        indices.Add(index);
                    }
                    return Done(() => Add(new VcpuEvent.GetMsrs(new([.. indices]))));
                }
            case "disable-quirks2":
                return Arity(1, 1, "disable-quirks2 MASK") ?? OneValue(w[1], v => Add(new VcpuEvent.DisableQuirks2(v)));
            case "disable-exits":
                return Arity(1, 1, "disable-exits MASK (EXIT_HLT, EXIT_MWAIT, EXIT_PAUSE, EXIT_CSTATE, EXIT_APERFMPERF or a number)")
                    ?? OneValue(w[1], v => Add(new VcpuEvent.DisableExits(v)));
            case "mov-cr4":
                return Arity(1, 1, "mov-cr4 VALUE") ?? OneValue(w[1], v => Add(new VcpuEvent.MovToCr4(v)));
            case "xsetbv":
                {
                    if (Arity(1, 2, "xsetbv [XCR] VALUE") is { } usage)
                    {
                        return usage;
                    }
                    var index = 0ul;
                    if (w.Length == 3 && Value(w[1], out index) is { } bad)
                    {
                        return bad;
                    }
                    // kvm_emulate_xsetbv takes the XCR index from ECX: the high half of RCX is ignored, as here.
                    var xcr = (uint)index;
                    return OneValue(w[^1], v => Add(new VcpuEvent.Xsetbv(xcr, v)));
                }
            case "wrmsr":
                {
                    if (Arity(2, 2, "wrmsr MSR VALUE") is { } usage)
                    {
                        return usage;
                    }
                    if (MsrIndex(w[1], out var msr) is { } bad)
                    {
                        return bad;
                    }
                    return OneValue(w[2], v => Add(new VcpuEvent.Wrmsr(msr, v)));
                }
            case "rdmsr":
                {
                    if (Arity(1, 1, "rdmsr MSR") is { } usage)
                    {
                        return usage;
                    }
                    return MsrIndex(w[1], out var msr) ?? Done(() => Add(new VcpuEvent.Rdmsr(msr)));
                }
            case "cpuid":
                {
                    if (Arity(1, 1, "cpuid LEAF[.SUBLEAF]") is { } usage)
                    {
                        return usage;
                    }
                    return Leaf(w[1], out var leaf, out var sub) ?? Done(() => Add(new VcpuEvent.Cpuid(leaf, sub ?? 0)));
                }
            case "cpl":
                return Arity(1, 1, "cpl 0..3") ?? OneValue(w[1], v => Add(new VcpuEvent.SetCpl((byte)(v & 3))), max: 3);
            case "mwait":
                return Arity(0, 0, "mwait") ?? Done(() => Add(new VcpuEvent.MonitorMwait()));
            case "smi":
                return Arity(0, 0, "smi") ?? Done(() => Add(new VcpuEvent.EnterSmm()));
            case "rsm":
                return Arity(0, 0, "rsm") ?? Done(() => Add(new VcpuEvent.Rsm()));
            case "init":
                return Arity(0, 0, "init") ?? Done(() => Add(new VcpuEvent.Init()));
            case "reset":
                return Arity(0, 0, "reset") ?? Done(() => Add(new VcpuEvent.Reset()));
            case "sev-es-sync":
                {
                    if (Arity(1, 2, "sev-es-sync XCR0 [XSS]") is { } usage)
                    {
                        return usage;
                    }
                    if (Value(w[1], out var xcr0) is { } badXcr0)
                    {
                        return badXcr0;
                    }
                    return w.Length == 2
                        ? Done(() => Add(new VcpuEvent.SevEsSyncFromGhcb(xcr0)))
                        : OneValue(w[2], xss => Add(new VcpuEvent.SevEsSyncFromGhcb(xcr0, xss)));
                }
            case "get-supported-cpuid":
                return Arity(0, 0, "get-supported-cpuid") ?? Done(() => steps.Add(new ScenarioStep.GetSupportedCpuid(line)));
            case "check-extension":
                {
                    var usage = $"check-extension CAP ({string.Join(", ", CheckExtension.Known.Select(CapabilityWord))})";
                    if (Arity(1, 1, usage) is { } bad)
                    {
                        return bad;
                    }
                    var capability = CheckExtension.Known.Where(c => string.Equals(CapabilityWord(c), CapabilityWord(w[1]), StringComparison.OrdinalIgnoreCase)).ToArray();
                    return capability.Length == 1
                        ? Done(() => steps.Add(new ScenarioStep.CheckExtension(line, capability[0])))
                        : $"check-extension: the model does not answer '{w[1]}'; usage: {usage}";
                }
            case "in":
            case "out":
                return PortIo(w, Add);
            case "hlt":
                return Arity(0, 0, "hlt") ?? Done(() => Add(new VcpuEvent.Hlt()));
            case "triple-fault":
                return Arity(0, 0, "triple-fault (the guest's exception found no handler)") ?? Done(() => Add(new VcpuEvent.TripleFault()));
            case "vmentry":
                return VmEntry(w, Add);
            case "vmexit":
                {
                    if (w.Length < 2)
                    {
                        return "usage: vmexit CR4 [MSR=VALUE ...] (the vmcs12 host CR4, then the MSR-load list)";
                    }
                    if (NestedCr4(w[1], "vmcs12's host CR4", out var cr4) is { } bad)
                    {
                        return bad;
                    }
                    var list = MsrList(w.AsSpan(2), out var error);
                    return error ?? Done(() => Add(new VcpuEvent.NestedVmExit(cr4, list)));
                }
            case "vmrun":
                return SvmVmrun(w, Add);
            case "svm-vmexit":
                return Arity(0, 0, "svm-vmexit (L1's CR4 comes back from vmcb01)") ?? Done(() => Add(new VcpuEvent.NestedSvmVmexit()));
            default:
                return $"unknown step '{w[0]}' (see docs/scenarios.md for the list)";
        }
    }

    /// <summary>
    /// <c>vmentry CR4 [mask=V] [shadow=V] [MSR=VALUE ...]</c>: vmcs12's GUEST_CR4, its CR4_GUEST_HOST_MASK and
    /// CR4_READ_SHADOW (0 if not given), then the VM-entry MSR-load list (<see cref="VcpuEvent.NestedVmEntry"/>).
    /// </summary>
    private static string? VmEntry(string[] w, Action<VcpuEvent> add)
    {
        const string Usage = "usage: vmentry CR4 [mask=VALUE] [shadow=VALUE] [MSR=VALUE ...] (vmcs12's guest CR4, CR4 guest/host mask and read shadow, then the MSR-load list)";
        if (w.Length < 2)
        {
            return Usage;
        }
        if (NestedCr4(w[1], "vmcs12's guest CR4", out var cr4) is { } bad)
        {
            return bad;
        }
        ulong? mask = null, shadow = null;
        var rest = new List<string>();
        foreach (var word in w.Skip(2))
        {
            var (key, text) = Split(word);
            var name = key.ToLowerInvariant();
            if (text is null || name is not ("mask" or "shadow"))
            {
                rest.Add(word);
                continue;
            }
            if ((name == "mask" ? mask : shadow) is not null)
            {
                return $"'{word}': {name} given twice";
            }
            if (Value(text, out var value) is { } badValue)
            {
                return badValue;
            }
            if (name == "mask")
            {
                mask = value;
            }
            else
            {
                shadow = value;
            }
        }
        var list = MsrList(rest.ToArray(), out var error);
        if (error is not null)
        {
            return error;
        }
        add(new VcpuEvent.NestedVmEntry(cr4, list) { Cr4GuestHostMask = mask ?? 0, Cr4ReadShadow = shadow ?? 0 });
        return null;
    }

    /// <summary><c>in PORT [SIZE]</c> / <c>out PORT VALUE [SIZE]</c>: a port access of 1, 2 or 4 bytes (1 if not given).</summary>
    private static string? PortIo(string[] w, Action<VcpuEvent> add)
    {
        var isIn = w[0].Equals("in", StringComparison.OrdinalIgnoreCase);
        var usage = isIn ? "usage: in PORT [SIZE] (SIZE 1, 2 or 4 bytes)" : "usage: out PORT VALUE [SIZE] (SIZE 1, 2 or 4 bytes)";
        var sizeAt = isIn ? 2 : 3;
        if (w.Length < sizeAt || w.Length > sizeAt + 1)
        {
            return usage;
        }
        if (Value(w[1], out var port) is { } badPort)
        {
            return badPort;
        }
        if (port > 0xFFFF)
        {
            return $"port {w[1]} does not fit in 16 bits";
        }
        var size = 1ul;
        if (w.Length > sizeAt && (Value(w[sizeAt], out size) is { } badSize || size is not (1 or 2 or 4)))
        {
            return $"size {w[sizeAt]}: {usage}";
        }
        var value = 0ul;
        if (!isIn && Value(w[2], out value) is { } badValue)
        {
            return badValue;
        }
        if (value >> (int)(size * 8) != 0)
        {
            return $"value {w[2]} does not fit in {size} byte{(size == 1 ? "" : "s")}";
        }
        add(new VcpuEvent.PortIo(isIn, (ushort)port, (byte)size, (uint)value));
        return null;
    }

    /// <summary>
    /// <c>expect exit io in|out PORT [VALUE]</c>: KVM_EXIT_IO in that direction at that port (with that data, for OUT);
    /// the size is the checked step's (a step that is no port access cannot give KVM_EXIT_IO anyway).
    /// </summary>
    private static string? ExpectExitIo(string[] w, ScenarioStep observed, Action<Observation> exactly)
    {
        const string Usage = "usage: expect exit io in PORT | expect exit io out PORT [VALUE]";
        var direction = w[3].ToLowerInvariant();
        if (direction is not ("in" or "out") || (direction == "in" && w.Length == 6))
        {
            return Usage;
        }
        if (Value(w[4], out var port) is { } badPort)
        {
            return badPort;
        }
        if (port > 0xFFFF)
        {
            return $"port {w[4]} does not fit in 16 bits";
        }
        var step = (observed as ScenarioStep.Apply)?.Event as VcpuEvent.PortIo;
        var data = (ulong)(direction == "out" ? step?.Value ?? 0 : 0);
        if (w.Length == 6 && Value(w[5], out data) is { } badValue)
        {
            return badValue;
        }
        if (data > uint.MaxValue)
        {
            return $"value {w[5]} does not fit in 32 bits";
        }
        exactly(new Observation.ExitIo(direction == "in", (ushort)port, step?.Size ?? 1, (uint)data));
        return null;
    }

    /// <summary>An exit reason for <c>expect exit-to-l1</c>: cpuid, xsetbv, cr-access, or a number.</summary>
    private static string? VmxExitReasonNamed(string word, out uint reason)
    {
        reason = word.ToLowerInvariant() switch
        {
            "cpuid" => Observation.ExitToL1.Cpuid,
            "xsetbv" => Observation.ExitToL1.Xsetbv,
            "cr-access" => Observation.ExitToL1.CrAccess,
            "triple-fault" => Observation.ExitToL1.TripleFault,
            _ => uint.MaxValue,
        };
        if (reason != uint.MaxValue)
        {
            return null;
        }
        if (Value(word, out var n) is { } bad)
        {
            return bad;
        }
        if (n > 0xFFFF)
        {
            return $"exit reason {word} is not a basic exit reason (16 bits)";
        }
        reason = (uint)n;
        return null;
    }

    /// <summary>
    /// <c>vmrun CR4 [intercept-cpuid] [intercept-xsetbv]</c>: VMRUN with vmcb12's save.cr4 and the CPUID/XSETBV
    /// intercepts L1 set (<see cref="VcpuEvent.NestedSvmVmrun"/>).
    /// </summary>
    private static string? SvmVmrun(string[] w, Action<VcpuEvent> add)
    {
        const string Usage = "usage: vmrun CR4 [intercept-cpuid] [intercept-xsetbv] [intercept-shutdown] (vmcb12's save.cr4 and intercepts)";
        if (w.Length < 2)
        {
            return Usage;
        }
        if (NestedCr4(w[1], "vmcb12's save.cr4", out var cr4) is { } bad)
        {
            return bad;
        }
        var intercepts = Vmcb12Intercepts.None;
        foreach (var word in w.Skip(2))
        {
            var bit = word.ToLowerInvariant() switch
            {
                "intercept-cpuid" => Vmcb12Intercepts.Cpuid,
                "intercept-xsetbv" => Vmcb12Intercepts.Xsetbv,
                "intercept-shutdown" => Vmcb12Intercepts.Shutdown,
                _ => (Vmcb12Intercepts?)null,
            };
            if (bit is not { } b)
            {
                return $"'{word}': {Usage}";
            }
            intercepts |= b;
        }
        add(new VcpuEvent.NestedSvmVmrun(cr4, intercepts));
        return null;
    }

    /// <summary>An SVM exit code for <c>expect svm-exit</c>: cpuid, xsetbv, vmrun, or a number.</summary>
    private static string? SvmExitCodeNamed(string word, out ulong code)
    {
        code = word.ToLowerInvariant() switch
        {
            "cpuid" => SvmExitCode.Cpuid,
            "xsetbv" => SvmExitCode.Xsetbv,
            "vmrun" => SvmExitCode.Vmrun,
            "shutdown" => SvmExitCode.Shutdown,
            _ => 0,
        };
        return code != 0 ? null : Value(word, out code);
    }

    private static string? ParseEdit(string[] w, int line, ImmutableArray<ScenarioStep>.Builder steps)
    {
        const string Usage = "usage: guest-cpuid host | drop LEAF[.SUB] | set LEAF.SUB REG=VALUE | set LEAF.SUB REG.BIT=0|1 | unflag LEAF.SUB | add LEAF[.SUB] [REG=VALUE ...] | fill FIRST COUNT";
        if (w.Length < 2)
        {
            return Usage;
        }
        void Add(CpuidEdit e) => steps.Add(new ScenarioStep.Edit(line, e));
        switch (w[1].ToLowerInvariant())
        {
            case "host" when w.Length == 2:
                Add(new CpuidEdit.FromHost());
                return null;
            case "drop" when w.Length == 3:
                return Leaf(w[2], out var dl, out var ds) ?? Done(() => Add(new CpuidEdit.Drop(dl, ds)));
            case "unflag" when w.Length == 3:
                return Leaf(w[2], out var ul, out var us) ?? Done(() => Add(new CpuidEdit.ClearSignificantIndex(ul, us ?? 0)));
            case "set" when w.Length == 4:
                {
                    if (Leaf(w[2], out var leaf, out var sub) is { } bad)
                    {
                        return bad;
                    }
                    if (RegisterTerm(w[3], out var register, out var bit, out var value) is { } badTerm)
                    {
                        return badTerm;
                    }
                    Add(bit is { } b ? new CpuidEdit.SetBit(leaf, sub ?? 0, register, b, value != 0) : new CpuidEdit.SetRegister(leaf, sub ?? 0, register, value));
                    return null;
                }
            case "add" when w.Length >= 3:
                {
                    if (Leaf(w[2], out var leaf, out var sub) is { } bad)
                    {
                        return bad;
                    }
                    var regs = new uint[4];
                    foreach (var term in w.Skip(3))
                    {
                        if (RegisterTerm(term, out var register, out var bit, out var value) is { } badTerm)
                        {
                            return badTerm;
                        }
                        if (bit is not null)
                        {
                            return $"guest-cpuid add takes whole registers (REG=VALUE), found '{term}'";
                        }
                        regs[(int)register] = value;
                    }
                    Add(new CpuidEdit.Add(leaf, sub, regs[0], regs[1], regs[2], regs[3]));
                    return null;
                }
            case "fill" when w.Length == 4:
                {
                    if (Value(w[2], out var first) is { } bad)
                    {
                        return bad;
                    }
                    if (first > uint.MaxValue)
                    {
                        return $"leaf {w[2]} does not fit in 32 bits";
                    }
                    return OneValue(w[3], n => Add(new CpuidEdit.Fill((uint)first, (uint)n)), max: 4096);
                }
            default:
                return Usage;
        }
    }

    private static string? ParseExpect(string[] w, string content, int line, ImmutableArray<ScenarioStep>.Builder steps)
    {
        if (w.Length < 2)
        {
            return "usage: expect nothing | ok [N] | #GP | #UD | EINVAL | E2BIG | EPERM | mwait-nop | vmentry-fail N | vmx-abort | policies-differ | exit-to-l1 cpuid|xsetbv|cr-access|triple-fault|N | svm-exit CODE | exit io in|out PORT [VALUE] | exit shutdown | halted | supported LEAF.SUB REG=VALUE|REG.BIT=0|1 ... | xcr0 VALUE | cr4 VALUE | sregs CR4 APIC_BASE | sregs [cr0=V] [cr4=V] [efer=V] [apic-base=V] | nent N | xcrs VALUE|none | msrs MSR=VALUE...|none | msr VALUE | REG=VALUE | REG.BIT=0|1 | entry LEAF.SUB REG=VALUE|flags=V ... | no-entry LEAF.SUB";
        }
        // The step an expectation checks: the last one that is not an edit or an expectation, within the current VM.
        var observed = Enumerable.Reverse(steps).FirstOrDefault(s => s is not (ScenarioStep.Edit or ScenarioStep.Expect));
        if (observed is null or ScenarioStep.NewVm or ScenarioStep.CreateVcpu)
        {
            return "'expect' before any step: an expectation checks what the step before it observed";
        }
        void Add(Expectation e) => steps.Add(new ScenarioStep.Expect(line, e, content));
        void Exactly(Observation? o) => Add(new Expectation.Exactly(o));
        var head = w[1].ToLowerInvariant();
        switch (head)
        {
            case "nothing" when w.Length == 2:
                Exactly(null);
                return null;
            case "ok" when w.Length <= 3:
                {
                    var n = 0ul;
                    if (w.Length == 3 && Value(w[2], out n) is { } bad)
                    {
                        return bad;
                    }
                    return n > int.MaxValue
                        ? $"'expect ok {w[2]}': an ioctl returns an int, at most {int.MaxValue}"
                        : Done(() => Exactly(new Observation.IoctlDone((int)n)));
                }
            case "#gp" when w.Length == 2:
                Exactly(new Observation.Fault(X86Exception.GP));
                return null;
            case "#ud" when w.Length == 2:
                Exactly(new Observation.Fault(X86Exception.UD));
                return null;
            case "einval" when w.Length == 2:
                Exactly(new Observation.IoctlError(Errno.EINVAL));
                return null;
            case "e2big" when w.Length == 2:
                Exactly(new Observation.IoctlError(Errno.E2BIG));
                return null;
            case "eperm" when w.Length == 2:
                Exactly(new Observation.IoctlError(Errno.EPERM));
                return null;
            case "mwait-nop" when w.Length == 2:
                Exactly(new Observation.MwaitNop());
                return null;
            case "vmx-abort" when w.Length == 2:
                Exactly(new Observation.VmxAbort(Msr.VmxAbortLoadHostMsrFail));
                return null;
            case "policies-differ" when w.Length == 2:
                Add(new Expectation.PoliciesDiffer());
                return null;
            case "exit-to-l1" when w.Length == 3:
                return VmxExitReasonNamed(w[2], out var reason) ?? Done(() => Exactly(new Observation.ExitToL1(reason)));
            case "halted" when w.Length == 2:
                Exactly(new Observation.Halted());
                return null;
            case "exit" when w.Length == 3 && w[2].Equals("shutdown", StringComparison.OrdinalIgnoreCase):
                Exactly(new Observation.ExitShutdown());
                return null;
            case "exit" when w.Length is 5 or 6 && w[2].Equals("io", StringComparison.OrdinalIgnoreCase):
                return ExpectExitIo(w, observed, Exactly);
            case "svm-exit" when w.Length == 3:
                return SvmExitCodeNamed(w[2], out var code) ?? Done(() => Exactly(new Observation.SvmExitToL1(code)));
            case "xcr0" when w.Length == 3:
                return OneValue(w[2], v => Exactly(new Observation.Xcr0Value(v)));
            case "sregs" when w.Length == 4 && !w[2].Contains('=', StringComparison.Ordinal):
                {
                    if (Value(w[2], out var cr4) is { } badCr4)
                    {
                        return badCr4;
                    }
                    return OneValue(w[3], apic => Add(new Expectation.Sregs(null, cr4, null, apic)));
                }
            case "sregs" when w.Length >= 3:
                {
                    var error = SregsTerms(w.AsSpan(1).ToArray(), "expect sregs", out var sregs);
                    return error ?? Done(() => Add(sregs));
                }
            case "cr4" when w.Length == 3:
                return OneValue(w[2], v => Exactly(new Observation.Cr4Value(v)));
            case "nent" when w.Length == 3:
                return OneValue(w[2], v => Add(new Expectation.Nent((int)v)), max: int.MaxValue);
            case "xcrs" when w.Length == 3 && w[2].Equals("none", StringComparison.OrdinalIgnoreCase):
                Exactly(new Observation.Xcrs(0, 0));
                return null;
            case "xcrs" when w.Length == 3:
                return OneValue(w[2], v => Exactly(new Observation.Xcrs(1, v)));
            case "msrs" when w.Length == 3 && w[2].Equals("none", StringComparison.OrdinalIgnoreCase):
                Exactly(new Observation.Msrs(ValueArray<MsrEntry>.Empty));
                return null;
            case "msrs" when w.Length >= 3:
                {
                    var read = MsrList(w.AsSpan(2), out var error);
                    return error ?? Done(() => Exactly(new Observation.Msrs(read)));
                }
            case "vmentry-fail" when w.Length == 3:
                return OneValue(w[2], v => Exactly(new Observation.VmEntryMsrLoadFailed((uint)v)), max: uint.MaxValue);
            case "msr" when w.Length == 3:
                return OneValue(w[2], v => Add(new Expectation.MsrValue(v)));
            case "no-entry" when w.Length == 3:
                return Leaf(w[2], out var nl, out var ns) ?? Done(() => Add(new Expectation.NoEntry(nl, ns ?? 0)));
            case "supported" when w.Length >= 4:
                {
                    if (Leaf(w[2], out var leaf, out var sub) is { } bad)
                    {
                        return bad;
                    }
                    foreach (var term in w.Skip(3))
                    {
                        if (RegisterTerm(term, out var register, out var bit, out var value) is { } badTerm)
                        {
                            return badTerm;
                        }
                        var (mask, expected) = bit is { } b ? (1u << b, value << b) : (uint.MaxValue, value);
                        Add(new Expectation.Supported(leaf, sub ?? 0, register, mask, expected));
                    }
                    return null;
                }
            case "entry" when w.Length >= 4:
                {
                    if (Leaf(w[2], out var leaf, out var sub) is { } bad)
                    {
                        return bad;
                    }
                    foreach (var term in w.Skip(3))
                    {
                        if (Split(term) is ("flags" or "FLAGS", { } flagsText))
                        {
                            if (OneValue(flagsText, v => Add(new Expectation.EntryFlags(leaf, sub ?? 0, (CpuidFlags)v)), max: uint.MaxValue) is { } badFlags)
                            {
                                return badFlags;
                            }
                            continue;
                        }
                        if (RegisterTerm(term, out var register, out var bit, out var value) is { } badTerm)
                        {
                            return badTerm;
                        }
                        var (mask, expected) = bit is { } b ? (1u << b, value << b) : (uint.MaxValue, value);
                        Add(new Expectation.Entry(leaf, sub ?? 0, register, mask, expected));
                    }
                    return null;
                }
            default:
                foreach (var term in w.Skip(1))
                {
                    if (RegisterTerm(term, out var register, out var bit, out var value) is { } badTerm)
                    {
                        return $"unknown expectation '{string.Join(' ', w.Skip(1))}': {badTerm}";
                    }
                    var (mask, expected) = bit is { } b ? (1u << b, value << b) : (uint.MaxValue, value);
                    Add(new Expectation.Register(register, mask, expected));
                }
                return null;
        }
    }

    private static string? Done(Action action)
    {
        action();
        return null;
    }

    private static string? OneValue(string text, Action<ulong> use, ulong max = ulong.MaxValue)
    {
        if (Value(text, out var v) is { } bad)
        {
            return bad;
        }
        if (v > max)
        {
            return $"value {text} is out of range (at most {max})";
        }
        use(v);
        return null;
    }

    /// <summary>The <c>KEY=VALUE</c> terms after <c>w[0]</c> naming sregs fields (cr0, cr4, efer, apic-base), each at most once.</summary>
    private static string? SregsTerms(string[] w, string what, out Expectation.Sregs sregs)
    {
        var fields = new Dictionary<string, ulong>(StringComparer.OrdinalIgnoreCase);
        sregs = new Expectation.Sregs(null, null, null, null);
        foreach (var term in w.Skip(1))
        {
            var (key, text) = Split(term);
            if (text is null || Value(text, out var v) is not null)
            {
                return $"bad {what} term '{term}': expected cr0=VALUE, cr4=VALUE, efer=VALUE or apic-base=VALUE";
            }
            if (key.ToLowerInvariant() is not ("cr0" or "cr4" or "efer" or "apic-base"))
            {
                return $"unknown {what} field '{key}': expected cr0, cr4, efer or apic-base";
            }
            if (!fields.TryAdd(key, v))
            {
                return $"{what}: '{key}' given twice";
            }
        }
        ulong? Field(string name) => fields.TryGetValue(name, out var v) ? v : null;
        sregs = new Expectation.Sregs(Field("cr0"), Field("cr4"), Field("efer"), Field("apic-base"));
        return null;
    }

    private static (string Key, string? Value) Split(string term)
    {
        var eq = term.IndexOf('=', StringComparison.Ordinal);
        return eq < 0 ? (term, null) : (term[..eq], term[(eq + 1)..]);
    }

    /// <summary>
    /// The CR4 a nested transition loads: a value without bits 63:32 (<see cref="Cr4.UpperHalf"/>). KVM's consistency
    /// checks refuse such a CR4 before the transition (<c>nested_vmx_check_guest_state</c> for GUEST_CR4 and
    /// <c>nested_vmx_check_host_state</c> for HOST_CR4, both at VM entry; <c>nested_vmcb_check_save</c> at VMRUN).
    /// </summary>
    private static string? NestedCr4(string text, string what, out ulong cr4)
    {
        if (Value(text, out cr4) is { } bad)
        {
            return bad;
        }
        return (cr4 & Cr4.UpperHalf) == 0
            ? null
            : $"'{text}': {what} has a bit of 63:32 set; no modelled kernel allows one, and KVM's consistency checks refuse such a CR4 before any nested transition loads it";
    }

    /// <summary>A number (0x hex or decimal) or names joined with '|'.</summary>
    private static string? Value(string text, out ulong value)
    {
        value = 0;
        foreach (var part in text.Split('|'))
        {
            if (part.Length == 0)
            {
                return $"bad number '{text}'";
            }
            if (ValueNames.TryGetValue(part, out var named))
            {
                value |= named;
            }
            else if (Number(part, out var n))
            {
                value |= n;
            }
            else
            {
                return $"bad number '{part}': expected 0xHEX, decimal or a known name such as OSXSAVE, AVX512, APIC_EN";
            }
        }
        return null;
    }

    private static bool Number(string text, out ulong value) =>
        text.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
            ? ulong.TryParse(text.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out value) && text.Length > 2
            : ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value);

    private static string? MsrIndex(string text, out uint index)
    {
        if (MsrNames.TryGetValue(text, out index))
        {
            return null;
        }
        if (Number(text, out var n) && n <= uint.MaxValue)
        {
            index = (uint)n;
            return null;
        }
        return $"bad MSR '{text}': expected a number or one of {string.Join(", ", MsrNames.Keys)}";
    }

    /// <summary>
    /// The terms of <c>set-xcrs XCRn=VALUE ... [flags=F]</c>: the entries in order (any XCR number, and more than
    /// KVM_MAX_XCRS of them, so that the ioctl's refusals can be written) and the flags word.
    /// </summary>
    private static string? XcrList(ReadOnlySpan<string> terms, out ValueArray<XcrEntry> xcrs, out uint flags)
    {
        const string Usage = "usage: set-xcrs XCR0 | set-xcrs [xcrN=VALUE ...] [flags=F]";
        var entries = ImmutableArray.CreateBuilder<XcrEntry>();
        (xcrs, flags) = (ValueArray<XcrEntry>.Empty, 0u);
        ulong? flagsValue = null;
        foreach (var term in terms)
        {
            var (key, text) = Split(term);
            if (text is null)
            {
                return $"bad XCR entry '{term}': expected xcrN=VALUE or flags=F; {Usage}";
            }
            if (Value(text, out var v) is { } bad)
            {
                return bad;
            }
            if (key.Equals("flags", StringComparison.OrdinalIgnoreCase))
            {
                if (flagsValue is not null || v > uint.MaxValue)
                {
                    return flagsValue is null ? $"flags {text} is out of range (a 32-bit word)" : "flags given twice";
                }
                flagsValue = v;
            }
            else if (key.StartsWith("xcr", StringComparison.OrdinalIgnoreCase) && Number(key[3..], out var xcr) && xcr <= uint.MaxValue)
            {
                entries.Add(new XcrEntry((uint)xcr, v));
            }
            else
            {
                return $"bad XCR '{key}': expected xcr0, xcr1, ... (a 32-bit XCR number) or flags; {Usage}";
            }
        }
        (xcrs, flags) = (new ValueArray<XcrEntry>(entries.ToImmutable()), (uint)(flagsValue ?? 0));
        return null;
    }

    private static ValueArray<MsrEntry> MsrList(ReadOnlySpan<string> terms, out string? error)
    {
        var entries = ImmutableArray.CreateBuilder<MsrEntry>();
        foreach (var term in terms)
        {
            var (key, text) = Split(term);
            if (text is null)
            {
                error = $"bad MSR entry '{term}': expected MSR=VALUE";
                return default;
            }
            if ((MsrIndex(key, out var index) ?? Value(text, out _)) is { } bad)
            {
                error = bad;
                return default;
            }
            Value(text, out var v);
            entries.Add(new MsrEntry(index, v));
        }
        error = null;
        return entries.ToImmutable();
    }

    /// <summary>LEAF or LEAF.SUB, each a number.</summary>
    private static string? Leaf(string text, out uint leaf, out uint? sub)
    {
        leaf = 0;
        sub = null;
        var dot = text.IndexOf('.', StringComparison.Ordinal);
        var leafText = dot < 0 ? text : text[..dot];
        if (!Number(leafText, out var l) || l > uint.MaxValue)
        {
            return $"bad leaf '{text}': expected LEAF or LEAF.SUBLEAF such as 0xd.1";
        }
        leaf = (uint)l;
        if (dot >= 0)
        {
            if (!Number(text[(dot + 1)..], out var s) || s > uint.MaxValue)
            {
                return $"bad sub-leaf in '{text}': expected LEAF.SUBLEAF such as 0xd.1";
            }
            sub = (uint)s;
        }
        return null;
    }

    /// <summary>REG=VALUE, REG.BIT=0|1 or REG.NAME=0|1 (NAME one of OSXSAVE, MWAIT, APIC, OSPKE).</summary>
    private static string? RegisterTerm(string term, out CpuidRegister register, out int? bit, out uint value)
    {
        register = CpuidRegister.Eax;
        bit = null;
        value = 0;
        var (key, text) = Split(term);
        if (text is null)
        {
            return $"expected REG=VALUE or REG.BIT=0|1, found '{term}'";
        }
        var dot = key.IndexOf('.', StringComparison.Ordinal);
        var regText = dot < 0 ? key : key[..dot];
        CpuidRegister? r = regText.ToLowerInvariant() switch
        {
            "eax" => CpuidRegister.Eax,
            "ebx" => CpuidRegister.Ebx,
            "ecx" => CpuidRegister.Ecx,
            "edx" => CpuidRegister.Edx,
            _ => null,
        };
        if (r is not { } reg)
        {
            return $"unknown register '{regText}' in '{term}': expected eax, ebx, ecx or edx";
        }
        register = reg;
        if (dot >= 0)
        {
            var bitText = key[(dot + 1)..];
            if (BitNames.TryGetValue(bitText, out var named))
            {
                if (named.Register != reg)
                {
                    return $"{bitText} is in {named.Register.ToString().ToLowerInvariant()}, not {regText}";
                }
                bit = named.Bit;
            }
            else if (int.TryParse(bitText, NumberStyles.None, CultureInfo.InvariantCulture, out var b) && b < 32)
            {
                bit = b;
            }
            else
            {
                return $"bad bit '{bitText}' in '{term}': expected 0..31 or OSXSAVE, MWAIT, APIC, OSPKE";
            }
            if (text is not ("0" or "1"))
            {
                return $"a bit is 0 or 1, found '{text}' in '{term}'";
            }
            value = text == "1" ? 1u : 0u;
            return null;
        }
        if (Value(text, out var v) is { } bad)
        {
            return bad;
        }
        if (v > uint.MaxValue)
        {
            return $"value {text} does not fit in a 32-bit register";
        }
        value = (uint)v;
        return null;
    }
}
