import type { z } from "zod";

/** One field of an object schema: its path, and its description, if it has one. */
export interface SchemaField {
  path: string;
  description: string | undefined;
}

type AnySchema = z.core.$ZodType;

/** What a schema says of itself, from zod's global registry (where `.describe()` writes). */
function descriptionOf(schema: AnySchema): string | undefined {
  return (schema as { description?: string }).description;
}

/** The schema a wrapper holds: optional, nullable, default, readonly, a pipe's input, a lazy's value. */
function unwrapped(schema: AnySchema): AnySchema | undefined {
  const def = schema._zod.def as z.core.$ZodTypeDef & {
    innerType?: AnySchema;
    in?: AnySchema;
    getter?: () => AnySchema;
  };
  switch (def.type) {
    case "optional":
    case "nullable":
    case "default":
    case "prefault":
    case "nonoptional":
    case "readonly":
    case "catch":
      return def.innerType;
    case "pipe":
      return def.in;
    case "lazy":
      return def.getter?.();
    default:
      return undefined;
  }
}

/** A field's description: on the field's schema, or on a schema it wraps. */
function fieldDescription(schema: AnySchema): string | undefined {
  for (let s: AnySchema | undefined = schema; s; s = unwrapped(s)) {
    const description = descriptionOf(s);
    if (description !== undefined) return description;
  }
  return undefined;
}

/** How a variant of a union shows in a path: its `kind`, when it has a literal one. */
function variantLabel(option: AnySchema, index: number): string {
  let s: AnySchema | undefined = option;
  while (s && unwrapped(s)) s = unwrapped(s);
  const def = s?._zod.def as { type?: string; shape?: Record<string, AnySchema> } | undefined;
  const kind = def?.type === "object" ? def.shape?.kind : undefined;
  const values = (kind?._zod.def as { type?: string; values?: unknown[] } | undefined)?.values;
  return kind?._zod.def.type === "literal" && values?.length === 1 ? `<${String(values[0])}>` : `<${index}>`;
}

/**
 * Every field of every object reachable from `schema` (through optionals, unions, arrays, records
 * and pipes), with the path a user writes it at: variants of a union are marked `<kind>` (or their
 * position), array items `[]` and record values `{}`.
 */
export function schemaFields(schema: AnySchema, path = ""): SchemaField[] {
  const def = schema._zod.def as z.core.$ZodTypeDef & {
    shape?: Record<string, AnySchema>;
    options?: AnySchema[];
    element?: AnySchema;
    valueType?: AnySchema;
  };
  const inner = unwrapped(schema);
  if (inner) return schemaFields(inner, path);
  switch (def.type) {
    case "object":
      return Object.entries(def.shape ?? {}).flatMap(([key, field]) => {
        const at = path ? `${path}.${key}` : key;
        return [{ path: at, description: fieldDescription(field) }, ...schemaFields(field, at)];
      });
    case "union": {
      const options = def.options ?? [];
      // orUnknown(x) is x or a literal: its fields are x's, at the same path.
      const withFields = options.filter((option) => schemaFields(option).length > 0);
      return withFields.flatMap((option) =>
        schemaFields(option, withFields.length > 1 ? `${path}${variantLabel(option, options.indexOf(option))}` : path),
      );
    }
    case "array":
      return def.element ? schemaFields(def.element, `${path}[]`) : [];
    case "record":
      return def.valueType ? schemaFields(def.valueType, `${path}{}`) : [];
    default:
      return [];
  }
}
