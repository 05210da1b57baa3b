using System.Text.Json;

namespace CpuidFunctional.Cli;

/// <summary>The one JSON writer of <c>cpuidf</c> (<c>exec --json</c>, <c>host --json</c>): System.Text.Json, indented, keys as declared.</summary>
internal static class JsonText
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <summary>The value as indented JSON.</summary>
    public static string Of(object value) => JsonSerializer.Serialize(value, Indented);
}
