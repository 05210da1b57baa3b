using System.CommandLine;
using System.CommandLine.Parsing;

namespace CpuidFunctional.Cli;

/// <summary>
/// The one spelling of each name of a closed set (policies, kernels, wrong variants, workloads): what options accept
/// (exactly, no other case or punctuation), what help lists and completes, and what the tools print and export. A few
/// names may stand for several values (<c>all</c>).
/// </summary>
/// <param name="what">What a name names, for messages ("policy").</param>
/// <param name="entries">Each name with the values it stands for, in the order help lists them.</param>
public sealed class NameTable<T>(string what, IReadOnlyList<(string Name, T[] Values)> entries)
    where T : notnull
{
    /// <summary>A table in which each name stands for one value.</summary>
    public NameTable(string what, IEnumerable<(string Name, T Value)> entries)
        : this(what, [.. entries.Select(e => (e.Name, new[] { e.Value }))]) { }

    /// <summary>Each name with the values it stands for, in the order help lists them.</summary>
    public IReadOnlyList<(string Name, T[] Values)> Entries { get; } = entries;

    /// <summary>The names, in order.</summary>
    public IEnumerable<string> Names => Entries.Select(e => e.Name);

    /// <summary>The values that have a name of their own, in order (without <c>all</c>-like names).</summary>
    public IEnumerable<T> Values => Entries.Where(e => e.Values.Length == 1).Select(e => e.Values[0]);

    /// <summary>The name of a value (the first entry that stands for it alone).</summary>
    public string NameOf(T value) =>
        Entries.First(e => e.Values.Length == 1 && EqualityComparer<T>.Default.Equals(e.Values[0], value)).Name;

    /// <summary>The values a name stands for; null if it is none of the names.</summary>
    public T[]? Lookup(string name) => Entries.Where(e => e.Name == name).Select(e => e.Values).FirstOrDefault();

    /// <summary>An option taking one or more names (repeatable), without duplicates, in the order given; empty when absent.</summary>
    /// <param name="option">The option's name.</param>
    /// <param name="description">Its help text.</param>
    /// <param name="namesPerToken">Whether one occurrence may take several names (<c>--policy eager lazy</c>); false where
    /// positional arguments follow the option, which would otherwise be read as names.</param>
    public Option<T[]> Many(string option, string description, bool namesPerToken = true) =>
        Complete(new Option<T[]>(option)
        {
            Description = description,
            AllowMultipleArgumentsPerToken = namesPerToken,
            CustomParser = r => r.Tokens.Select(t => Parse(r, option, t.Value)).ToArray() is var parsed && parsed.Any(p => p is null)
                ? []
                : [.. parsed.SelectMany(p => p!).Distinct()],
        });

    /// <summary>An option taking one name; read it with <see cref="ValueOr"/>.</summary>
    public Option<T> One(string option, string description) =>
        Complete(new Option<T>(option)
        {
            Description = description,
            CustomParser = r => r.Tokens is [var token] && Parse(r, option, token.Value) is [var value] ? value : default!,
        });

    /// <summary>The value of a <see cref="One"/> option, <paramref name="fallback"/> when absent (no DefaultValueFactory, whose help would print the value's type-level name).</summary>
    public static T ValueOr(ParseResult parse, Option<T> option, T fallback) => parse.GetResult(option) is null ? fallback : parse.GetValue(option)!;

    /// <summary>Completions and help list the names: in the usage (<c>--policy &lt;eager|lazy|...&gt;</c>) if short, else in the description.</summary>
    private TOption Complete<TOption>(TOption option)
        where TOption : Option
    {
        var names = string.Join('|', Names);
        if (names.Length <= 48)
        {
            option.HelpName = names;
        }
        else
        {
            option.HelpName = "NAME";
            option.Description += $" (one of {string.Join(", ", Names)})";
        }
        option.CompletionSources.Add(Names.ToArray());
        return option;
    }

    /// <summary>The values of a name, or null with an error naming the option, the name, the closest known name and all of them.</summary>
    private T[]? Parse(ArgumentResult result, string option, string name)
    {
        if (Lookup(name) is { } values)
        {
            return values;
        }
        var hint = Closest(name) is { } close ? $" Did you mean '{close}'?" : "";
        result.AddError($"{option}: unknown {what} '{name}' (expected one of {string.Join(", ", Names)}).{hint}");
        return null;
    }

    /// <summary>The known name nearest to a misspelt one (edit distance at most a third of its length, ignoring case), if any.</summary>
    public string? Closest(string name)
    {
        var folded = name.ToLowerInvariant();
        return Names
            .Select(n => (Name: n, Distance: Distance(folded, n.ToLowerInvariant())))
            .Where(c => c.Distance <= Math.Max(1, c.Name.Length / 3))
            .OrderBy(c => c.Distance)
            .Select(c => c.Name)
            .FirstOrDefault();
    }

    /// <summary>Levenshtein distance (insertions, deletions, substitutions).</summary>
    private static int Distance(string a, string b)
    {
        var row = Enumerable.Range(0, b.Length + 1).ToArray();
        for (var i = 1; i <= a.Length; i++)
        {
            var diagonal = row[0];
            row[0] = i;
            for (var j = 1; j <= b.Length; j++)
            {
                var above = row[j];
                row[j] = Math.Min(Math.Min(row[j] + 1, row[j - 1] + 1), diagonal + (a[i - 1] == b[j - 1] ? 0 : 1));
                diagonal = above;
            }
        }
        return row[b.Length];
    }
}
