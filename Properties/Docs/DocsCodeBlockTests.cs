using System.Reflection;
using System.Text;
using CpuidFunctional.Properties.Scenarios;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace CpuidFunctional.Properties.Docs;

/// <summary>
/// Every <c>```csharp</c> block in docs/ and the README compiles as written: each becomes the body of a method in
/// a compilation that references Core, Interpreter and Oracle and imports all of their public namespaces. A block
/// that shows output or another language uses another fence (<c>```</c>, <c>```nasm</c>, <c>```bash</c>).
/// </summary>
public class DocsCodeBlockTests
{
    private static readonly Assembly[] Ours = [typeof(Kvm).Assembly, typeof(Runner).Assembly, typeof(Oracle.KvmSystem).Assembly];

    public static TheoryData<string, int> Blocks()
    {
        var data = new TheoryData<string, int>();
        foreach (var (file, line, _) in All())
        {
            data.Add(file, line);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Blocks))]
    public void A_csharp_block_in_the_docs_compiles(string file, int line)
    {
        var code = All().Single(b => b.File == file && b.Line == line).Code;
        var errors = Compile(code);
        Assert.True(errors.Count == 0, $"{file}:{line} does not compile:\n{string.Join('\n', errors)}\n---\n{code}");
    }

    [Fact]
    public void The_docs_have_csharp_blocks_to_compile() => Assert.True(All().Count >= 3, "no csharp blocks found in docs/");

    [Fact]
    public void A_broken_block_is_reported_with_its_error() =>
        Assert.Contains(Compile("var x = Program.FromBytes(new byte[1]);\nMachine.Boot(x, null!);"), d => d.Contains("CS1503", StringComparison.Ordinal));

    private static List<(string File, int Line, string Code)> All()
    {
        var root = RepositoryFiles.Checkout;
        var files = RepositoryFiles.Documentation;
        var blocks = new List<(string, int, string)>();
        foreach (var path in files)
        {
            var lines = File.ReadAllLines(path);
            for (var i = 0; i < lines.Length; i++)
            {
                if (lines[i].Trim() != "```csharp")
                {
                    continue;
                }
                var body = new StringBuilder();
                var start = i + 1;
                for (i++; i < lines.Length && lines[i].Trim() != "```"; i++)
                {
                    body.Append(lines[i]).Append('\n');
                }
                blocks.Add((Path.GetRelativePath(root, path), start, body.ToString()));
            }
        }
        return blocks;
    }

    private static List<string> Compile(string body)
    {
        var namespaces = Ours.SelectMany(a => a.GetExportedTypes()).Select(t => t.Namespace).OfType<string>().Distinct().Order(StringComparer.Ordinal);
        var usings = string.Join('\n', namespaces.Select(n => $"using {n};"));
        var source = $"{usings}\nusing System;\nusing System.IO;\nusing System.Linq;\nusing System.Collections.Generic;\nstatic class DocBlock\n{{\n    static void Run()\n    {{\n{body}\n    }}\n}}\n";
        var trusted = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator);
        var references = trusted.Select(p => MetadataReference.CreateFromFile(p)).Cast<MetadataReference>().ToList();
        var compilation = CSharpCompilation.Create(
            "DocBlock",
            [CSharpSyntaxTree.ParseText(source, new CSharpParseOptions(LanguageVersion.Latest))],
            references,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable)
        );
        return [.. compilation.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error).Select(d => d.ToString())];
    }
}
