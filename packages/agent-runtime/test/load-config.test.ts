import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PolicyValidationError } from "@cadre/agent-runtime-contract";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigFileError } from "../src/config/errors.js";
import { loadConfig } from "../src/config/load.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "cadre-load-config-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function file(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

async function rejection(path: string): Promise<unknown> {
  return loadConfig(path).then(
    () => expect.unreachable("expected loadConfig to reject"),
    (error: unknown) => error,
  );
}

describe("loadConfig", () => {
  it("returns the validated isolation section and ignores the rest of the file", async () => {
    const path = await file(
      "ok.json",
      JSON.stringify({
        model: "x",
        isolation: { provider: "docker", docker: { runtime: "runc" } },
      }),
    );
    await expect(loadConfig(path)).resolves.toEqual({
      provider: "docker",
      docker: { runtime: "runc" },
    });
  });

  it("names a missing file", async () => {
    const path = join(dir, "absent.json");
    const error = await rejection(path);
    expect(error).toBeInstanceOf(ConfigFileError);
    expect(PolicyValidationError.isInstance(error)).toBe(true);
    expect((error as ConfigFileError).filePath).toBe(path);
    expect((error as Error).message).toContain(`${path}: no such file`);
  });

  it("gives the line and column of a JSON syntax error", async () => {
    const path = await file("bad.json", '{\n  "isolation": {\n    provider: "docker"\n  }\n}\n');
    const error = (await rejection(path)) as ConfigFileError;
    expect(error).toBeInstanceOf(ConfigFileError);
    expect(error.location).toEqual({ line: 3, column: 5 });
    expect(error.message).toContain(`${path}:3:5`);
  });

  it("locates a truncated file at its end", async () => {
    const path = await file("truncated.json", '{\n  "isolation": {');
    const error = (await rejection(path)) as ConfigFileError;
    expect(error.location?.line).toBe(2);
  });

  it("requires an object with an isolation section", async () => {
    const array = (await rejection(await file("array.json", "[]"))) as ConfigFileError;
    expect(array.message).toMatch(/JSON object/);
    const missing = (await rejection(await file("none.json", '{"model":"x"}'))) as ConfigFileError;
    expect(missing.message).toMatch(/no "isolation" section/);
  });

  it("names bad values inside the file by JSON path and names the file", async () => {
    const path = await file(
      "values.json",
      JSON.stringify({ isolation: { provider: "kata", kata: { runtimePath: 3, extra: 1 } } }),
    );
    const error = (await rejection(path)) as PolicyValidationError;
    expect(PolicyValidationError.isInstance(error)).toBe(true);
    expect(error.issues.map((i) => i.path).sort()).toEqual([
      "isolation.kata.extra",
      "isolation.kata.runtimePath",
    ]);
    expect(error.message).toContain(path);
  });
});
