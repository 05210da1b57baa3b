using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace CpuidFunctional.Bench.Console;

/// <summary>
/// The round-trip table as files (docs/benchmarks.md, "Exported files"): one schema, whose row keys are the JSON
/// row's keys in the JSON's order, for JSON, CSV (RFC 4180, invariant culture, empty for a missing ratio) and
/// markdown (a GitHub table, '-' for a missing ratio). CSV and markdown are made from the JSON rows, so they cannot
/// drift from it.
/// </summary>
internal static class RoundTripExport
{
    /// <summary>camelCase keys; a NaN ratio (Eager not run) is null.</summary>
    public static JsonSerializerOptions Json { get; } =
        new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase, Converters = { new NaNAsNull() } };

    /// <summary>The rows as JSON objects, keys in declaration order.</summary>
    public static IReadOnlyList<JsonObject> Rows(IReadOnlyList<Measurement.Measurement> rows) =>
        [.. rows.Select(r => JsonSerializer.SerializeToNode(r, Json)!.AsObject())];

    /// <summary>The table as CSV: a header of the keys, then one line per row.</summary>
    public static string Csv(IReadOnlyList<Measurement.Measurement> rows) =>
        Lines(rows, keys => string.Join(',', keys), values => string.Join(',', values.Select(v => CsvField(Number(v, "R", "")))));

    /// <summary>The table as a GitHub markdown table (numbers rounded to three decimals).</summary>
    public static string Markdown(IReadOnlyList<Measurement.Measurement> rows) =>
        Lines(
            rows,
            keys => $"| {string.Join(" | ", keys)} |\n|{string.Concat(keys.Select(_ => "---|"))}",
            values => $"| {string.Join(" | ", values.Select(v => Number(v, "0.###", "-").Replace("|", "\\|", StringComparison.Ordinal)))} |"
        );

    private static string Lines(IReadOnlyList<Measurement.Measurement> rows, Func<IEnumerable<string>, string> header, Func<IEnumerable<JsonNode?>, string> line)
    {
        var objects = Rows(rows);
        var keys = objects.Count > 0 ? objects[0].Select(p => p.Key) : [];
        var text = new StringBuilder().Append(header(keys)).Append('\n');
        foreach (var o in objects)
        {
            text.Append(line(o.Select(p => p.Value))).Append('\n');
        }
        return text.ToString();
    }

    /// <summary>A value as text: numbers in <paramref name="format"/> (invariant), strings as they are, null as <paramref name="missing"/>.</summary>
    private static string Number(JsonNode? value, string format, string missing) =>
        value switch
        {
            null => missing,
            JsonValue v when v.GetValueKind() == JsonValueKind.Number => v.GetValue<double>().ToString(format, CultureInfo.InvariantCulture),
            JsonValue v => v.ToString(),
            _ => throw new System.Diagnostics.UnreachableException($"a row value is never a {value.GetValueKind()}"),
        };

    /// <summary>RFC 4180: a field with a comma, quote or line break is quoted, quotes doubled.</summary>
    private static string CsvField(string text) =>
        text.AsSpan().IndexOfAny(",\"\r\n") < 0 ? text : $"\"{text.Replace("\"", "\"\"", StringComparison.Ordinal)}\"";
}
