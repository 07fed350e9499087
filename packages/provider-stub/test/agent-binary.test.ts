import { chmodSync, copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { sessionDirectories, useStubProviders } from "./helpers.js";

// The binary as a package packed with normalized file modes ships it: mode 0644.
const shipped = vi.hoisted(() => ({ path: "" }));

vi.mock("@cadre/agent-runtime-sandbox-agent", async (importOriginal) => {
  const real = await importOriginal<typeof import("@cadre/agent-runtime-sandbox-agent")>();
  const binary = real.agentBinaryPath();
  if (binary) {
    shipped.path = join(mkdtempSync(join(tmpdir(), "cadre-stub-binary-")), "cadre-agent");
    copyFileSync(binary, shipped.path);
    chmodSync(shipped.path, 0o644);
  }
  return { ...real, agentBinaryPath: () => shipped.path || undefined };
});

describe("a cadre-agent binary without the exec bit", () => {
  const stub = useStubProviders();
  afterAll(() => {
    if (shipped.path) rmSync(dirname(shipped.path), { recursive: true, force: true });
  });

  it("fails doctor's stub.agent check and startSession closed, saying how to fix it", async () => {
    expect(shipped.path).not.toBe("");
    const provider = await stub();
    const report = await provider.doctor();
    expect(report.ready).toBe(false);
    const check = report.checks.find((c) => c.id === "stub.agent");
    expect(check).toMatchObject({ ok: false, required: true });
    expect(check?.detail).toContain("not executable");
    expect(check?.fix).toContain(`chmod +x ${shipped.path}`);

    const error = (await provider.startSession({}).catch((e: unknown) => e)) as {
      code?: string;
      checks?: Array<{ id: string }>;
    };
    expect(error.code).toBe("PROVIDER_UNAVAILABLE");
    expect(error.checks?.map((c) => c.id)).toEqual(["stub.agent"]);
    expect(await sessionDirectories(provider.stateDir)).toEqual([]);
  });
});
