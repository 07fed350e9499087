import type { ForeignObject } from "@cadre/agent-runtime-conformance";
import { newSessionId } from "@cadre/agent-runtime-provider-utils";
import { afterAll, beforeAll, expect, it, vi } from "vitest";
import { KataProvider } from "../src/index.js";
import { describeWithContainerd } from "./support/available.js";
import {
  findBackendLeftovers,
  plantForeignObjects,
  reapEndRecords,
  variantOptions,
} from "./support/containerd-env.js";

const runLabel = { "cadre.test/foreign-objects": String(process.pid) };
const snapshotter = "overlayfs";

describeWithContainerd("objects that are not this provider's sessions (containerd)", () => {
  const provider = new KataProvider(variantOptions("kata-stand-in"));
  const adapter = provider.containerd!;
  let planted: ForeignObject[] = [];

  beforeAll(async () => {
    planted = await plantForeignObjects();
  });

  afterAll(async () => {
    for (const object of planted) await object.remove();
    for (const s of await provider.listSessions({ labels: runLabel }))
      await provider.destroySession(s.id);
    expect(await findBackendLeftovers(runLabel)).toEqual([]);
    expect(await reapEndRecords(runLabel), "end records").toEqual([]);
    await provider.close();
  });

  it("are SESSION_NOT_FOUND to exec and getSession, and survive stopSession and destroySession", async () => {
    expect(planted.length).toBeGreaterThanOrEqual(4);
    for (const object of planted) {
      const what = `${object.id}: ${object.description}`;
      await expect(provider.exec(object.id, ["true"]), what).rejects.toMatchObject({
        code: "SESSION_NOT_FOUND",
      });
      await expect(provider.getSession(object.id), what).rejects.toMatchObject({
        code: "SESSION_NOT_FOUND",
      });
      await provider.stopSession(object.id);
      await provider.destroySession(object.id);
      expect(await object.alive(), what).toBe(true);
    }
  });

  it("are never listed, not even under the session id their labels name", async () => {
    const listed = (await provider.listSessions()).map((s) => s.id);
    for (const object of planted) expect(listed, object.description).not.toContain(object.id);
    const named = (await Promise.all(planted.map((o) => adapter.client.getContainer(o.id)))).map(
      (c) => c.labels["cadre.agent-runtime/session-id"],
    );
    for (const id of named.filter((n): n is string => n !== undefined)) {
      expect(listed).not.toContain(id);
    }
  });

  it("destroySession leaves a snapshot and a lease named like the session but not labelled as it", async () => {
    const id = newSessionId();
    const foreign = { "cadre.test/planted": "foreign" };
    await adapter.client.createLease(id, foreign);
    await adapter.client.prepareSnapshot(snapshotter, id, "", foreign);
    try {
      await provider.destroySession(id);
      expect((await adapter.client.statSnapshot(snapshotter, id)).labels).toEqual(foreign);
      expect((await adapter.client.listLeases([`id=="${id}"`])).map((l) => l.labels)).toEqual([
        foreign,
      ]);
    } finally {
      await adapter.client.removeSnapshot(snapshotter, id).catch(() => {});
      await adapter.client.deleteLease(id).catch(() => {});
    }
  });

  it("checks a session once: later execs read nothing from containerd before they run", async () => {
    const id = await provider.startSession({ labels: runLabel });
    // A second instance, as after a restart: it has to look the session up, once.
    const other = new KataProvider(variantOptions("kata-stand-in"));
    const otherAdapter = other.containerd!;
    try {
      const ownLookups = vi.spyOn(adapter.client, "getContainer");
      const otherLookups = vi.spyOn(otherAdapter.client, "getContainer");
      for (let i = 0; i < 3; i++) {
        expect((await provider.exec(id, ["true"])).exitCode).toBe(0);
        expect((await other.exec(id, ["true"])).exitCode).toBe(0);
      }
      expect(ownLookups).not.toHaveBeenCalled();
      expect(otherLookups).toHaveBeenCalledTimes(1);
    } finally {
      vi.restoreAllMocks();
      await other.close();
      await provider.destroySession(id);
    }
  });
});
