import { execFileSync } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { sessionDirectories, useStubProviders } from "./helpers.js";

// A kernel without child subreapers, for real: the aarch64 agent under qemu-user, which refuses
// PR_SET_CHILD_SUBREAPER (as gVisor does). The stub is given a wrapper that runs it there.
const foreign = vi.hoisted(() => ({ wrapper: undefined as string | undefined }));

vi.mock("@cadre/agent-runtime-sandbox-agent", async (importOriginal) => {
  const real = await importOriginal<typeof import("@cadre/agent-runtime-sandbox-agent")>();
  const binary = real.agentBinaryPath(process.arch === "arm64" ? "x64" : "arm64");
  const emulator = process.arch === "arm64" ? "qemu-x86_64-static" : "qemu-aarch64-static";
  let found = true;
  try {
    execFileSync("sh", ["-c", `command -v ${emulator}`], { stdio: "ignore" });
  } catch {
    found = false;
  }
  if (binary && found) {
    const dir = mkdtempSync(join(tmpdir(), "cadre-stub-qemu-"));
    foreign.wrapper = join(dir, "cadre-agent");
    writeFileSync(foreign.wrapper, `#!/bin/sh\nexec ${emulator} ${binary} "$@"\n`);
    chmodSync(foreign.wrapper, 0o755);
  }
  return {
    ...real,
    agentBinaryPath: () => foreign.wrapper ?? real.agentBinaryPath(),
    // The wrapper is a script, not the ELF binary the check reads.
    agentBinaryFit: (path: string) =>
      foreign.wrapper
        ? {
            fits: true,
            arch: "emulated",
            detail: `${path}: the other architecture's agent under qemu-user`,
          }
        : real.agentBinaryFit(path),
  };
});

describe("a kernel without child subreapers", () => {
  const stub = useStubProviders();
  afterAll(() => {
    if (foreign.wrapper) rmSync(dirname(foreign.wrapper), { recursive: true, force: true });
  });

  it.skipIf(foreign.wrapper === undefined && process.env.CI !== "true")(
    "makes startSession fail closed with PROVIDER_UNAVAILABLE, and doctor says why",
    async () => {
      expect(foreign.wrapper, "qemu-user-static and the other architecture's agent").toBeDefined();
      const provider = await stub();
      const error = (await provider.startSession({}).catch((e: unknown) => e)) as {
        code?: string;
        checks?: Array<{ id: string; ok: boolean; detail: string; fix?: string }>;
      };
      expect(error.code).toBe("PROVIDER_UNAVAILABLE");
      const check = error.checks?.find((c) => c.id === "stub.subreaper");
      expect(check).toMatchObject({ ok: false });
      expect(check?.detail).toMatch(/subreaper/);
      expect(check?.fix).toMatch(/PR_SET_CHILD_SUBREAPER/);
      // Nothing of the session is left.
      expect(await sessionDirectories(provider.stateDir)).toEqual([]);

      const report = await provider.doctor();
      expect(report.ready).toBe(false);
      expect(report.checks.find((c) => c.id === "stub.subreaper")).toMatchObject({
        ok: false,
        required: true,
      });
    },
  );
});
