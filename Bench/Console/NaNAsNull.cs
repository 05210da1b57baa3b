using System.Text.Json;
using System.Text.Json.Serialization;

namespace CpuidFunctional.Bench.Console;

/// <summary>
/// Writes a double that is NaN as JSON null: a "vs Eager" ratio is NaN when Eager was not among the policies run,
/// and JSON has no NaN.
/// </summary>
internal sealed class NaNAsNull : JsonConverter<double>
{
    public override double Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        reader.TokenType == JsonTokenType.Null ? double.NaN : reader.GetDouble();

    public override void Write(Utf8JsonWriter writer, double value, JsonSerializerOptions options)
    {
        if (double.IsNaN(value))
        {
            writer.WriteNullValue();
        }
        else
        {
            writer.WriteNumberValue(value);
        }
    }
}
