import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { ConfigFileError, type ConfigFileLocation } from "./errors.js";
import { jsonErrorOffset } from "./json-error-offset.js";
import type { ParsedIsolationConfig } from "./schema.js";
import { validateIsolationConfig } from "./validate.js";

/**
 * Reads cadre.config.json (default: the one in the current directory) and returns its validated
 * `isolation` section (validateIsolationConfig: the chosen provider's package is loaded for its
 * options schema). Other top-level keys belong to the rest of cadre and are left alone.
 */
export async function loadConfig(path = "cadre.config.json"): Promise<ParsedIsolationConfig> {
  const filePath = resolve(path);
  const text = await readConfigText(filePath);
  const document = parseJson(filePath, text);
  if (typeof document !== "object" || document === null || Array.isArray(document)) {
    throw new ConfigFileError(
      filePath,
      "the file must hold a JSON object",
      'Write an object such as { "isolation": { "provider": "docker" } }.',
    );
  }
  if (!Object.hasOwn(document, "isolation")) {
    throw new ConfigFileError(
      filePath,
      'no "isolation" section',
      'Add one, e.g. "isolation": { "provider": "docker" } (see docs/config-schema.md).',
    );
  }
  return validateIsolationConfig((document as { isolation: unknown }).isolation, {
    subject: `isolation config in ${filePath}`,
  });
}

async function readConfigText(filePath: string): Promise<string> {
  try {
    return await readFile(filePath, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const problem =
      code === "ENOENT"
        ? "no such file"
        : code === "EISDIR"
          ? "is a directory, not a file"
          : code === "EACCES"
            ? "permission denied"
            : `cannot be read (${code ?? String(error)})`;
    throw new ConfigFileError(
      filePath,
      problem,
      "Pass the path of an existing cadre.config.json.",
      {
        cause: error,
      },
    );
  }
}

function parseJson(filePath: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    throw new ConfigFileError(
      filePath,
      `not valid JSON (${detail})`,
      "Fix the JSON syntax there.",
      {
        location: locateSyntaxError(text),
        cause: error,
      },
    );
  }
}

function locateSyntaxError(text: string): ConfigFileLocation | undefined {
  const offset = jsonErrorOffset(text);
  if (offset === undefined) return undefined;
  const before = text.slice(0, offset);
  const line = before.split("\n").length;
  return { line, column: offset - before.lastIndexOf("\n") };
}
