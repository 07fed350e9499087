import { getEventListeners } from "node:events";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  isReapable,
  newSessionId,
  sessionInfoFromLabels,
} from "@cadre/agent-runtime-provider-utils";
import { expect, it } from "vitest";
import { KataProvider } from "../src/index.js";
import { specTypeUrl } from "../src/spec/oci-types.js";
import { describeWithContainerd } from "./support/available.js";
import {
  findBackendLeftovers,
  kataSessionLabels,
  testImage,
  variantOptions,
} from "./support/containerd-env.js";
import { useKataProvider } from "./support/test-provider.js";

const runLabel = { "cadre.test/kata-start-edges": String(process.pid) };

describeWithContainerd("start and exec edges (containerd)", () => {
  const { provider, adapter } = useKataProvider("runc", runLabel);

  it("a FIFO directory that cannot be made fails the start with PROVIDER_UNAVAILABLE and its fix, leaving nothing", async () => {
    const scratch = await mkdtemp(join(tmpdir(), "kata-fifo-file-"));
    const notADir = join(scratch, "file");
    await writeFile(notADir, "");
    const broken = new KataProvider({ ...variantOptions("runc"), fifoDir: notADir });
    try {
      const error = await broken.startSession({ labels: runLabel }).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: "PROVIDER_UNAVAILABLE" });
      expect((error as Error).message).toMatch(/ENOTDIR.*fifoDir option/s);
      expect(await findBackendLeftovers(runLabel)).toEqual([]);
    } finally {
      await broken.close();
      await rm(scratch, { recursive: true, force: true });
    }
  });

  it("a second instance whose FIFOs to the agent cannot be made fails with PROVIDER_UNAVAILABLE; the first runs on, and destroy still cleans up", async () => {
    const id = await provider.startSession({ labels: runLabel });
    const dir = adapter.directories.path(id);
    await rm(dir, { recursive: true, force: true });
    await writeFile(dir, "");
    const second = new KataProvider(variantOptions("runc"));
    try {
      // Its connect exec needs FIFOs in the session's directory, which is now a file.
      const error = await second.exec(id, ["true"]).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: "PROVIDER_UNAVAILABLE" });
      expect((error as Error).message).toContain(dir);
    } finally {
      await second.close();
    }
    // The instance that started it holds its link already.
    expect(await provider.exec(id, ["echo", "on"])).toMatchObject({ exitCode: 0, stdout: "on\n" });
    await provider.destroySession(id);
    expect(await findBackendLeftovers({ "cadre.agent-runtime/session-id": id })).toEqual([]);
  });

  it("lists sessions whose specs together outgrow containerd's 16 MiB reply", async () => {
    // Each container record carries its spec, with the session's env up to the contract's
    // 512 KiB: 40 of them are 20 MiB, which a unary List cannot return.
    const spec = { process: { env: [`BIG=${"e".repeat(512 * 1024)}`] } };
    const ids = Array.from({ length: 40 }, () => newSessionId());
    try {
      for (const id of ids) {
        await adapter.client.createContainer({
          id,
          labels: { ...kataSessionLabels(id), ...runLabel },
          image: testImage,
          runtime: { name: "io.containerd.runc.v2" },
          spec: { type_url: specTypeUrl, value: Buffer.from(JSON.stringify(spec)) },
        });
      }
      const listed = await provider.listSessions({ labels: runLabel });
      expect(listed.map((s) => s.id).sort()).toEqual([...ids].sort());
    } finally {
      for (const id of ids) await provider.destroySession(id);
    }
  }, 120_000);

  it("a start with an AbortSignal leaves no listener on it once the session runs", async () => {
    const controller = new AbortController();
    const id = await provider.startSession({ labels: runLabel }, { signal: controller.signal });
    expect(getEventListeners(controller.signal, "abort")).toHaveLength(0);
    controller.abort(new Error("late abort"));
    expect((await provider.getSession(id)).state).toBe("running");
    await provider.destroySession(id);
  });

  it("a container labelled by hand with a malformed created-at counts from the epoch and is destroyable, never a throw", async () => {
    const id = newSessionId();
    const labels = {
      ...kataSessionLabels(id),
      "cadre.agent-runtime/created-at": "not a date",
      "cadre.agent-runtime/ttl": "60000",
      ...runLabel,
    };
    await adapter.client.createContainer({
      id,
      labels,
      image: testImage,
      runtime: { name: "io.containerd.runc.v2" },
      spec: { type_url: specTypeUrl, value: Buffer.from("{}") },
    });
    try {
      const info = sessionInfoFromLabels(labels, "stopped");
      expect(info).toMatchObject({ id, createdAt: new Date(0).toISOString() });
      // What reap() decides for it (reap itself acts on the whole shared namespace).
      expect(isReapable(info!, Date.now(), undefined)).toBe(true);
      // Its TTL, counted from the epoch, ran out: ended for callers, and still destroyable.
      const listed = await provider.listSessions({ labels: runLabel });
      expect(listed.map((s) => s.id)).not.toContain(id);
      expect(await provider.getSession(id)).toMatchObject({
        state: "ended",
        end: { cause: { kind: "ttl", limit: 60_000 } },
      });
      await provider.destroySession(id);
      await expect(adapter.client.getContainer(id)).rejects.toMatchObject({ code: 5 });
    } finally {
      await adapter.client.deleteContainer(id).catch(() => {});
    }
  });
});
