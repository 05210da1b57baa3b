using System.Reflection;
using System.Reflection.Emit;

namespace CpuidFunctional.Properties.Core;

/// <summary>One type mentioned by a compiled type: where (member, and whether in its signature or its body) and which.</summary>
/// <param name="Owner">The type whose definition mentions it (a nested or compiler-generated type counts as itself).</param>
/// <param name="Where">The member that mentions it, e.g. <c>method Step (body)</c> or <c>field cache</c>.</param>
/// <param name="Referenced">The type mentioned.</param>
internal sealed record TypeReference(Type Owner, string Where, Type Referenced)
{
    public override string ToString() => $"{Owner.FullName} -> {Referenced.FullName}, in {Where}";
}

/// <summary>
/// Every type a compiled type mentions, read from its metadata and from the IL of its method bodies: base type,
/// interfaces, generic constraints, attributes, fields, properties, method and constructor signatures, local
/// variables, and every type, field and method token an instruction carries (by the member's declaring type, its
/// signature and its generic arguments). Nested types, lambdas' closures and state machines included, so a
/// reference hidden in a method body or a lambda is found as surely as one in a signature.
/// </summary>
internal static class TypeReferences
{
    private const BindingFlags Declared = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;

    /// <summary>Opcodes by their byte: one-byte opcodes, and the second byte of the two-byte ones (0xFE xx).</summary>
    private static readonly (OpCode[] OneByte, OpCode[] TwoByte) Codes = OpcodeTables();

    private static (OpCode[], OpCode[]) OpcodeTables()
    {
        var one = new OpCode[256];
        var two = new OpCode[256];
        foreach (var field in typeof(OpCodes).GetFields(BindingFlags.Public | BindingFlags.Static))
        {
            var code = (OpCode)field.GetValue(null)!;
            var value = (ushort)code.Value;
            (code.Size == 1 ? one : two)[value & 0xFF] = code;
        }
        return (one, two);
    }

    /// <summary>The references made by a type and all the types nested in it.</summary>
    public static IEnumerable<TypeReference> Of(Type type)
    {
        foreach (var nested in type.GetNestedTypes(Declared))
        {
            foreach (var r in Of(nested))
            {
                yield return r;
            }
        }
        foreach (var (where, referenced) in Direct(type))
        {
            foreach (var part in Parts(referenced))
            {
                yield return new TypeReference(type, where, part);
            }
        }
    }

    private static IEnumerable<(string Where, Type Referenced)> Direct(Type type)
    {
        if (type.BaseType is { } baseType)
        {
            yield return ("base type", baseType);
        }
        foreach (var i in type.GetInterfaces())
        {
            yield return ("interfaces", i);
        }
        foreach (var t in Constraints(type.IsGenericTypeDefinition ? type.GetGenericArguments() : []))
        {
            yield return ("generic constraints", t);
        }
        foreach (var t in Attributes(type.GetCustomAttributesData()))
        {
            yield return ("attributes", t);
        }
        foreach (var field in type.GetFields(Declared))
        {
            yield return ($"field {field.Name}", field.FieldType);
            foreach (var t in Attributes(field.GetCustomAttributesData()))
            {
                yield return ($"field {field.Name}", t);
            }
        }
        foreach (var property in type.GetProperties(Declared))
        {
            yield return ($"property {property.Name}", property.PropertyType);
        }
        foreach (var e in type.GetEvents(Declared))
        {
            yield return ($"event {e.Name}", e.EventHandlerType!);
        }
        foreach (var method in type.GetMethods(Declared).Cast<MethodBase>().Concat(type.GetConstructors(Declared)))
        {
            foreach (var t in Signature(method))
            {
                yield return ($"method {method.Name} (signature)", t);
            }
            foreach (var t in Attributes(method.GetCustomAttributesData()))
            {
                yield return ($"method {method.Name} (attributes)", t);
            }
            foreach (var t in Body(method))
            {
                yield return ($"method {method.Name} (body)", t);
            }
        }
    }

    private static IEnumerable<Type> Signature(MethodBase method)
    {
        if (method is MethodInfo m)
        {
            yield return m.ReturnType;
        }
        foreach (var p in method.GetParameters())
        {
            yield return p.ParameterType;
        }
        foreach (var t in Constraints(method.IsGenericMethodDefinition ? method.GetGenericArguments() : []))
        {
            yield return t;
        }
    }

    private static IEnumerable<Type> Constraints(Type[] parameters) => parameters.SelectMany(p => p.GetGenericParameterConstraints());

    private static IEnumerable<Type> Attributes(IEnumerable<CustomAttributeData> attributes) =>
        attributes.SelectMany(a => a.ConstructorArguments.Select(c => c.Value).OfType<Type>().Prepend(a.AttributeType));

    /// <summary>The locals and the types, fields and methods named by the instructions of a method body.</summary>
    private static IEnumerable<Type> Body(MethodBase method)
    {
        if (method.GetMethodBody() is not { } body)
        {
            yield break;
        }
        foreach (var local in body.LocalVariables)
        {
            yield return local.LocalType;
        }
        var il = body.GetILAsByteArray() ?? [];
        var typeArguments = method.DeclaringType is { IsGenericType: true } d ? d.GetGenericArguments() : null;
        var methodArguments = method.IsGenericMethod ? method.GetGenericArguments() : null;
        for (var at = 0; at < il.Length;)
        {
            var code = il[at] == 0xFE ? Codes.TwoByte[il[at + 1]] : Codes.OneByte[il[at]];
            at += code.Size;
            switch (code.OperandType)
            {
                case OperandType.InlineField or OperandType.InlineMethod or OperandType.InlineTok or OperandType.InlineType:
                    var member = method.Module.ResolveMember(BitConverter.ToInt32(il, at), typeArguments, methodArguments)!;
                    foreach (var t in Mentioned(member))
                    {
                        yield return t;
                    }
                    at += 4;
                    break;
                case OperandType.InlineSwitch:
                    at += 4 + (4 * BitConverter.ToInt32(il, at));
                    break;
                default:
                    at += OperandSize(code.OperandType);
                    break;
            }
        }
    }

    private static int OperandSize(OperandType operand) => operand switch
    {
        OperandType.InlineNone => 0,
        OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar => 1,
        OperandType.InlineVar => 2,
        OperandType.InlineBrTarget or OperandType.InlineI or OperandType.InlineSig or OperandType.InlineString or OperandType.ShortInlineR => 4,
        OperandType.InlineI8 or OperandType.InlineR => 8,
        _ => throw new InvalidOperationException($"unexpected operand type {operand}"),
    };

    /// <summary>A member named by an instruction: its declaring type, and for a field or method its signature and generic arguments.</summary>
    private static IEnumerable<Type> Mentioned(MemberInfo member)
    {
        switch (member)
        {
            case Type t:
                yield return t;
                break;
            case FieldInfo f:
                if (f.DeclaringType is { } fieldOwner)
                {
                    yield return fieldOwner;
                }
                yield return f.FieldType;
                break;
            case MethodBase m:
                if (m.DeclaringType is { } methodOwner)
                {
                    yield return methodOwner;
                }
                foreach (var t in Signature(m).Concat(m.IsGenericMethod ? m.GetGenericArguments() : []))
                {
                    yield return t;
                }
                break;
            default:
                throw new InvalidOperationException($"unexpected member {member}");
        }
    }

    /// <summary>A type and the types it is built from: element types, generic arguments, declaring types. Generic parameters are not types of their own.</summary>
    private static IEnumerable<Type> Parts(Type type)
    {
        if (type.IsGenericParameter)
        {
            yield break;
        }
        if (type.HasElementType)
        {
            foreach (var t in Parts(type.GetElementType()!))
            {
                yield return t;
            }
            yield break;
        }
        yield return type;
        if (type.IsGenericType && !type.IsGenericTypeDefinition)
        {
            foreach (var t in type.GetGenericArguments().SelectMany(Parts))
            {
                yield return t;
            }
        }
    }
}
