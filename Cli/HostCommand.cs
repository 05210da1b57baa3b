using System.CommandLine;
using CpuidFunctional.Core;
using CpuidFunctional.Core.Host;
using CpuidFunctional.Core.State;
using Spectre.Console;

namespace CpuidFunctional.Cli;

/// <summary><c>cpuidf host DUMP_OR_PRESET [--xcr0 X] [--xss Y] [--json]</c>: the XSAVE layout and the sizes for XCR0/XSS.</summary>
internal static class HostCommand
{
    public static Command Create(CpuidfApp app)
    {
        var target = new Argument<string>("dump-or-preset") { Description = "A preset (" + string.Join(", ", HostPresets.Names) + ") or a CPUID dump file (AIDA64 or cpuid -r)" };
        var xcr0 = Numbers.Optional("--xcr0", "XCR0 to size (default: every user feature the host supports)", 0ul, ulong.MaxValue);
        var xss = Numbers.Option("--xss", "IA32_XSS to add to the compacted size", 0ul, ulong.MaxValue, fallback: 0ul);
        var json = new Option<bool>("--json") { Description = "Print one JSON object (keys include standardSize and compactedSize)" };
        var command = new Command("host", "Show a host's XSAVE layout and the standard and compacted sizes for an XCR0/XSS") { target, xcr0, xss, json };
        command.SetAction(parse => Run(app, parse.GetValue(target)!, parse.GetValue(xcr0), parse.GetValue(xss), parse.GetValue(json)));
        return command;
    }

    private static int Run(CpuidfApp app, string target, ulong? requestedXcr0, ulong xss, bool json)
    {
        HostCpu host;
        switch (HostResolver.Resolve(target, InputFiles.ReadText))
        {
            case Result<HostCpu>.Ok(var h):
                host = h;
                break;
            case Result<HostCpu>.Error(var problem):
                return app.Fail(problem.ToString());
            default:
                throw new System.Diagnostics.UnreachableException();
        }
        var xcr0 = requestedXcr0 ?? host.SupportedXcr0;
        if ((xcr0 & Xcr0.Fp) == 0)
        {
            return app.Fail($"--xcr0 {Numbers.Hex(xcr0)} has x87 (bit 0) clear, which XSETBV refuses (#GP): XCR0 always has bit 0 set");
        }
        if ((xcr0 & ~host.SupportedXcr0) != 0)
        {
            return app.Fail($"--xcr0 {Numbers.Hex(xcr0)} has bits {Numbers.Hex(xcr0 & ~host.SupportedXcr0)} the host does not support ({Numbers.Hex(host.SupportedXcr0)})");
        }
        if ((xss & ~host.SupportedXss) != 0)
        {
            return app.Fail($"--xss {Numbers.Hex(xss)} has bits {Numbers.Hex(xss & ~host.SupportedXss)} the host does not support ({Numbers.Hex(host.SupportedXss)})");
        }
        // What hardware reports: CPUID.0xD.0:EBX (standard, XCR0) and CPUID.0xD.1:EBX (compacted, XCR0 | XSS).
        var standard = host.Xsave.RequiredSize(xcr0, compacted: false);
        var compacted = host.Xsave.RequiredSize(xcr0 | xss, compacted: true);
        if (json)
        {
            app.Output.WriteLine(Json(host, xcr0, xss, standard, compacted));
            return ExitCodes.Ok;
        }
        var table = new Table().AddColumns("component", "size", "offset", "flags");
        foreach (var c in host.Xsave.Components)
        {
            var flags = string.Join(' ', new[] { c.IsSupervisor ? "supervisor" : "", c.Align64 ? "align64" : "" }.Where(f => f.Length > 0));
            table.AddRow(c.Index.ToString(System.Globalization.CultureInfo.InvariantCulture), Numbers.Hex(c.Size), Numbers.Hex(c.Offset), flags);
        }
        var console = app.Console;
        console.WriteLine($"{host.Name} ({host.VendorName}): XCR0 supported {Numbers.Hex(host.SupportedXcr0)}, XSS supported {Numbers.Hex(host.SupportedXss)}");
        console.Write(table);
        console.WriteLine($"XCR0 {Numbers.Hex(xcr0)}: standard size {standard} ({Numbers.Hex(standard)}) = CPUID.0xD.0:EBX");
        console.WriteLine($"XCR0|XSS {Numbers.Hex(xcr0 | xss)}: compacted size {compacted} ({Numbers.Hex(compacted)}) = CPUID.0xD.1:EBX");
        return ExitCodes.Ok;
    }

    private static string Json(HostCpu host, ulong xcr0, ulong xss, uint standard, uint compacted) =>
        JsonText.Of(new
        {
            host = host.Name,
            vendor = host.VendorName,
            supportedXcr0 = Numbers.Hex(host.SupportedXcr0),
            supportedXss = Numbers.Hex(host.SupportedXss),
            xcr0 = Numbers.Hex(xcr0),
            xss = Numbers.Hex(xss),
            standardSize = standard,
            compactedSize = compacted,
            components = host.Xsave.Components.Select(c => new
            {
                index = c.Index,
                size = c.Size,
                offset = c.Offset,
                supervisor = c.IsSupervisor,
                align64 = c.Align64,
            }),
        });
}
