import { offersNoIsolation, type ProviderDescriptor } from "@cadre/agent-runtime-provider-utils";
import { z } from "zod";
import { loadProviderDescriptors } from "../providers/registry.js";
import { acknowledgementKey, acknowledgementSchema } from "./acknowledgement.js";
import { isolationShapeSchema } from "./schema.js";

interface JsonSchema {
  type?: string | string[];
  description?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  enum?: unknown[];
  const?: unknown;
  anyOf?: JsonSchema[];
  additionalProperties?: boolean | JsonSchema;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
}

/**
 * The JSON Schema of the `isolation` section (draft 2020-12), generated from the zod schemas:
 * the generic shape, and each provider's section from its descriptor's options schema (with
 * `acknowledgeNoIsolation` for a provider that offers no isolation).
 */
export function isolationConfigJsonSchema(
  descriptors: readonly ProviderDescriptor[],
): Record<string, unknown> {
  const ids = descriptors.map((d) => d.id);
  const sections = Object.fromEntries(descriptors.map((d) => [d.id, d.optionsSchema]));
  const schema = z.toJSONSchema(isolationShapeSchema(ids, sections), {
    io: "input",
    unrepresentable: "any",
  }) as JsonSchema;
  for (const descriptor of descriptors) {
    const section = schema.properties?.[descriptor.id];
    if (!section || !offersNoIsolation(descriptor)) continue;
    const { $schema: _, ...acknowledgement } = z.toJSONSchema(acknowledgementSchema(descriptor), {
      io: "input",
    }) as JsonSchema & { $schema?: string };
    section.properties = { [acknowledgementKey]: acknowledgement, ...section.properties };
  }
  return schema as Record<string, unknown>;
}

/** docs/config-schema.md of the built-in providers, as `docs:config` writes it. */
export async function renderBuiltInConfigSchemaDoc(): Promise<string> {
  return renderConfigSchemaDoc(await loadProviderDescriptors());
}

/** docs/config-schema.md, generated; a test fails when the committed page differs. */
export function renderConfigSchemaDoc(descriptors: readonly ProviderDescriptor[]): string {
  const schema = isolationConfigJsonSchema(descriptors) as JsonSchema;
  const sections = Object.entries(schema.properties ?? {});
  const acknowledged = descriptors.filter(offersNoIsolation).map((d) => d.id);
  const out: string[] = [
    "<!-- Generated from the option schemas of the providers' descriptors (each provider package's",
    "     providerDescriptor) and packages/agent-runtime/src/config/schema.ts by",
    "     `pnpm --filter @cadre/agent-runtime docs:config`. Do not edit by hand. -->",
    "",
    "# cadre.config.json: the `isolation` section",
    "",
    schema.description ?? "",
    "",
    "`createProvider(config)` takes this section; `loadConfig(path)` reads it from a",
    "cadre.config.json (other top-level keys belong to the rest of cadre and are ignored here).",
    "Unknown keys and bad values are rejected with `PolicyValidationError` (code",
    "`POLICY_INVALID`) naming every bad JSON path, e.g. `isolation.docker.runtime`; a missing file",
    "or invalid JSON gives `ConfigFileError` (same code) with the file's path and the line.",
    "",
    "```json",
    JSON.stringify(
      {
        isolation: {
          provider: "docker",
          docker: { runtime: "runsc", image: "cadre-test/busybox:1" },
        },
      },
      null,
      2,
    ),
    "```",
    "",
    "## Rules beyond the tables",
    "",
    ...acknowledged.flatMap((id) => [
      `- \`provider: "${id}"\` requires \`${id}.acknowledgeNoIsolation: true\`: it gives no`,
      `  isolation, so choosing it by config must be deliberate. (\`cadre-runtime --provider ${id}\``,
      "  counts as that acknowledgement on the command line.)",
    ]),
    "- Each section is its provider package's own: its `providerDescriptor.optionsSchema`. Only the",
    "  chosen provider's package is imported, so only it needs to be installed. A missing package",
    "  gives `ProviderUnavailableError` (code `PROVIDER_UNAVAILABLE`) naming it; the section of",
    "  another provider whose package is not installed is not validated.",
    "",
  ];
  out.push(...renderObject("isolation", schema));
  for (const [key, section] of sections) {
    if (section.type === "object") out.push(...renderObject(`isolation.${key}`, section));
  }
  out.push("## JSON Schema", "", "```json", JSON.stringify(schema, null, 2), "```", "");
  return out.join("\n");
}

function renderObject(path: string, schema: JsonSchema): string[] {
  const required = new Set(schema.required ?? []);
  const lines = [`## \`${path}\``, ""];
  if (path !== "isolation" && schema.description) lines.push(schema.description, "");
  lines.push("| key | type | required | description |", "|---|---|---|---|");
  for (const [key, property] of Object.entries(schema.properties ?? {})) {
    const description =
      property.type === "object" && path === "isolation"
        ? `See [\`${path}.${key}\`](#${`${path}${key}`.toLowerCase()}).`
        : (property.description ?? "");
    lines.push(
      `| \`${key}\` | ${describeType(property)} | ${required.has(key) ? "yes" : "no"} | ${escapeCell(description)} |`,
    );
  }
  lines.push("");
  return lines;
}

function describeType(schema: JsonSchema): string {
  if (schema.const !== undefined) return `\`${JSON.stringify(schema.const)}\``;
  if (schema.enum) return schema.enum.map((v) => `\`${JSON.stringify(v)}\``).join(" \\| ");
  if (schema.anyOf) return schema.anyOf.map(describeType).join(" \\| ");
  const type = Array.isArray(schema.type) ? schema.type.join(" \\| ") : (schema.type ?? "any");
  const bounds: string[] = [];
  if (schema.minimum !== undefined) bounds.push(`>= ${schema.minimum}`);
  if (schema.maximum !== undefined) bounds.push(`<= ${schema.maximum}`);
  if (schema.maxLength !== undefined) bounds.push(`length <= ${schema.maxLength}`);
  if (type === "object" && typeof schema.additionalProperties === "object") {
    return `object of ${describeType(schema.additionalProperties)}`;
  }
  return bounds.length ? `${type} (${bounds.join(", ")})` : type;
}

function escapeCell(text: string): string {
  return text.replaceAll("|", "\\|").replaceAll("\n", " ");
}
