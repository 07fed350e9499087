import type { SessionEnd } from "@cadre/agent-runtime-contract";
import {
  buildSessionLabels,
  type EndRecord,
  newSessionId,
  sessionInfoFromLabels,
} from "@cadre/agent-runtime-provider-utils";
import { afterAll, expect, it } from "vitest";
import { ContainerdClient } from "../src/containerd/client.js";
import {
  ContainerdEndRecords,
  endRecordLabels,
  endRecordLease,
} from "../src/containerd/end-records.js";
import { isNotFound } from "../src/containerd/grpc-errors.js";
import { describeWithContainerd } from "./support/available.js";
import {
  containerdAddress,
  findBackendLeftovers,
  findEndRecords,
  namespace,
} from "./support/containerd-env.js";

const runLabel = { "cadre.test/kata-end-records": String(process.pid) };
const hour = 3_600_000;

describeWithContainerd("end records as containerd leases", () => {
  const client = new ContainerdClient({ address: containerdAddress, namespace });
  const store = new ContainerdEndRecords(client);
  /** Every lease a test made, removed after the file whatever happened. */
  const made = new Set<string>();

  afterAll(async () => {
    for (const lease of made) {
      await client.deleteLease(lease).catch((error: unknown) => {
        if (!isNotFound(error)) throw error;
      });
    }
    expect(await findEndRecords(runLabel)).toEqual([]);
    client.close();
  });

  function record(
    labels: Record<string, string> = {},
    end: SessionEnd = { cause: { kind: "destroyed", by: "owner" }, at: new Date().toISOString() },
    env: Record<string, string> = {},
  ): EndRecord {
    const id = newSessionId();
    made.add(endRecordLease(id));
    return {
      id,
      labels: buildSessionLabels({
        sessionId: id,
        providerId: "kata",
        policy: { labels: { ...runLabel, ...labels }, env, memory: 64 * 1024 * 1024 },
      }),
      end,
      keepUntil: new Date(Date.now() + hour).toISOString(),
    };
  }

  /** The id and session labels of a record of session `id` (its lease left to the caller). */
  function sessionOf(id: string, labels: Record<string, string>): Pick<EndRecord, "id" | "labels"> {
    return {
      id,
      labels: buildSessionLabels({ sessionId: id, providerId: "kata", policy: { labels } }),
    };
  }

  /** A lease named like a record, written by hand (another process). */
  async function plant(id: string, labels: Record<string, string>): Promise<void> {
    made.add(endRecordLease(id));
    await client.createLease(endRecordLease(id), labels);
  }

  async function leaseLabels(id: string): Promise<Record<string, string> | undefined> {
    const leases = await client.listLeases([`id=="${endRecordLease(id)}"`]);
    return leases[0]?.labels;
  }

  it("reads back what it wrote, replaces it, and keeps no env value", async () => {
    const secret = `secret-${newSessionId()}`;
    // Enough env names that the session's env-names label is split to fill containerd's limit.
    const env = Object.fromEntries(
      Array.from({ length: 120 }, (_, i) => [
        `CADRE_VARIABLE_NUMBER_${i}_${"X".repeat(40)}`,
        secret,
      ]),
    );
    const written: EndRecord = {
      ...record({ team: "a" }, undefined, env),
      reaped: "owner-gone",
    };
    expect(written.labels["cadre.agent-runtime/env-names.1"], "a split label").toBeDefined();
    await store.put(written);
    expect(await store.get(written.id)).toEqual(written);
    expect(sessionInfoFromLabels(written.labels, "ended")?.envNames).toHaveLength(120);

    const raw = (await leaseLabels(written.id))!;
    expect(JSON.stringify(raw)).not.toContain(secret);
    for (const [key, value] of Object.entries(raw)) {
      expect(Buffer.byteLength(key) + Buffer.byteLength(value), key).toBeLessThanOrEqual(4096);
    }
    // The session's labels only under the record's prefix: no search by a session's labels
    // takes the record for one of its objects.
    expect(raw["cadre.agent-runtime/session-id"]).toBeUndefined();
    expect(await findBackendLeftovers({ "cadre.agent-runtime/session-id": written.id })).toEqual(
      [],
    );
    expect(await findBackendLeftovers({})).not.toContainEqual(
      expect.stringContaining(endRecordLease(written.id)),
    );
    // containerd's GC deletes it once kept past keepUntil, to the second, rounded up.
    const expire = Date.parse(raw["containerd.io/gc.expire"]!);
    expect(expire).toBeGreaterThanOrEqual(Date.parse(written.keepUntil));
    expect(expire - Date.parse(written.keepUntil)).toBeLessThan(1000);
    expect(raw["containerd.io/gc.expire"]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);

    const replaced: EndRecord = {
      ...written,
      end: { cause: { kind: "agent-lost", signal: "SIGKILL" }, at: new Date().toISOString() },
    };
    delete replaced.reaped;
    await store.put(replaced);
    expect(await store.get(written.id)).toEqual(replaced);
    expect(await findEndRecords({ ...runLabel, team: "a" })).toHaveLength(1);
  });

  it("is deleted by containerd's garbage collector once expired, though nobody removes it", async () => {
    const expired = { ...record(), keepUntil: new Date(Date.now() - 60_000).toISOString() };
    const kept = record();
    await store.put(expired);
    await store.put(kept);
    expect(await leaseLabels(expired.id)).toBeDefined();
    // Deleting a scratch lease synchronously runs the collector before containerd answers.
    const scratch = `cadre-gc-${newSessionId()}`;
    made.add(scratch);
    await client.createLease(scratch, {});
    await client.deleteLease(scratch, { sync: true });
    expect(await leaseLabels(expired.id)).toBeUndefined();
    expect(await store.get(kept.id)).toEqual(kept);
  });

  it("keeps only the contract's fields of an end, each of its type", async () => {
    const written = record();
    const end = {
      cause: { kind: "memory", limit: 1024, note: "x".repeat(5000), signal: "S".repeat(100) },
      at: written.end.at,
    } as unknown as SessionEnd;
    await store.put({ ...written, end });
    expect((await store.get(written.id))?.end).toEqual({
      cause: { kind: "memory", limit: 1024 },
      at: written.end.at,
    });
  });

  it("takes a malformed or foreign lease named like a record for no record, without throwing", async () => {
    const prefixed = (labels: Record<string, string>) =>
      Object.fromEntries(
        Object.entries(labels).map(([k, v]) => [`${endRecordLabels.sessionLabelPrefix}${k}`, v]),
      );
    const test = { ...runLabel, case: "malformed" };
    /** The labels put() writes for a record of `id`, which the store reads back. */
    const wellFormed = (id: string): Record<string, string> => ({
      ...prefixed(sessionOf(id, test).labels),
      [endRecordLabels.end]: JSON.stringify({
        cause: { kind: "ttl" },
        at: new Date().toISOString(),
      }),
      [endRecordLabels.keepUntil]: new Date(Date.now() + hour).toISOString(),
    });
    const without = (labels: Record<string, string>, key: string) => {
      const { [key]: _gone, ...rest } = labels;
      return rest;
    };
    const end = endRecordLabels.end;
    const cases: [string, (id: string) => Record<string, string>][] = [
      ["end not JSON", (id) => ({ ...wellFormed(id), [end]: "{not json" })],
      [
        "an end of an unknown kind",
        (id) => ({
          ...wellFormed(id),
          [end]: '{"cause":{"kind":"x"},"at":"2026-01-01T00:00:00Z"}',
        }),
      ],
      ["an end without a time", (id) => ({ ...wellFormed(id), [end]: '{"cause":{"kind":"ttl"}}' })],
      ["an end that is null", (id) => ({ ...wellFormed(id), [end]: "null" })],
      ["no keepUntil", (id) => without(wellFormed(id), endRecordLabels.keepUntil)],
      [
        "a keepUntil that is no time",
        (id) => ({ ...wellFormed(id), [endRecordLabels.keepUntil]: "soon" }),
      ],
      [
        "no session labels",
        (id) =>
          without(
            without(
              wellFormed(id),
              `${endRecordLabels.sessionLabelPrefix}cadre.agent-runtime/session-id`,
            ),
            `${endRecordLabels.sessionLabelPrefix}cadre.agent-runtime/provider`,
          ),
      ],
      [
        "the session's labels without the prefix",
        (id) => ({
          ...sessionOf(id, test).labels,
          [end]: wellFormed(id)[end]!,
          [endRecordLabels.keepUntil]: wellFormed(id)[endRecordLabels.keepUntil]!,
        }),
      ],
    ];
    const foreign: [string, (id: string) => Record<string, string>][] = [
      [
        "the session labels of another id",
        (id) => ({ ...wellFormed(id), ...prefixed(sessionOf(newSessionId(), test).labels) }),
      ],
      [
        "the session labels of another provider",
        (id) => ({ ...wellFormed(id), ...prefixed({ "cadre.agent-runtime/provider": "docker" }) }),
      ],
    ];
    for (const [what, labelsOf] of [...cases, ...foreign]) {
      const id = newSessionId();
      await plant(id, labelsOf(id));
      expect(await store.get(id), what).toBeUndefined();
    }
    // A well-formed record under a name that is not `<id>-ended`.
    const id = newSessionId();
    made.add(`${id}-other`);
    await client.createLease(`${id}-other`, wellFormed(id));
    expect(await store.get(id)).toBeUndefined();

    expect(await store.list(test)).toEqual([]);
    expect(await store.list()).not.toContainEqual(
      expect.objectContaining({ labels: expect.objectContaining(test) }),
    );
    // Not its own: remove() leaves another provider's or another session's record alone, and
    // put() does not replace it (the lifecycle then warns that it could not keep the end).
    const plain = (labels: Record<string, string>) => ({ "cadre.test/planted": "x", ...labels });
    for (const [what, labelsOf] of [
      ...foreign,
      ["a lease that is no record", () => plain(runLabel)] as const,
    ]) {
      const written = record();
      const theirs = labelsOf(written.id);
      await plant(written.id, theirs);
      await store.remove(written.id);
      expect(await leaseLabels(written.id), what).toEqual(theirs);
      await expect(store.put(written), what).rejects.toMatchObject({ code: "BACKEND_ERROR" });
      expect(await leaseLabels(written.id), what).toEqual(theirs);
    }
    // What it wrote itself it reads, beside all of these.
    const good = record({ case: "malformed" });
    await store.put(good);
    expect(await store.list(test)).toEqual([good]);
    await store.remove(good.id);
  });

  it("lists by labels, at the source and for values containerd's filters would need quoted", async () => {
    const odd = 'with space, "quote" and /slash';
    const a = record({ shard: "a", odd });
    const b = record({ shard: "b", odd });
    const c = record({ shard: "a" });
    for (const r of [a, b, c]) await store.put(r);
    const ids = async (labels?: Record<string, string>) =>
      (await store.list(labels)).map((r) => r.id).sort();
    expect(await ids({ ...runLabel, shard: "a" })).toEqual([a.id, c.id].sort());
    expect(await ids({ ...runLabel, odd })).toEqual([a.id, b.id].sort());
    expect(await ids({ ...runLabel, shard: "b", odd })).toEqual([b.id]);
    expect(await ids({ ...runLabel, shard: "none" })).toEqual([]);
    expect(await ids()).toEqual(expect.arrayContaining([a.id, b.id, c.id]));
    expect(await store.list({ ...runLabel, shard: "a" })).toEqual(expect.arrayContaining([a, c]));
  });

  it("removes idempotently, and only what it was asked to", async () => {
    const kept = record();
    const gone = record();
    await store.put(kept);
    await store.put(gone);
    await store.remove(gone.id);
    expect(await store.get(gone.id)).toBeUndefined();
    await store.remove(gone.id);
    await store.remove(newSessionId());
    await store.remove("not a session id");
    expect(await store.get("not a session id")).toBeUndefined();
    expect(await store.get(kept.id)).toEqual(kept);
    await store.remove(kept.id);
    expect(await findEndRecords(runLabel)).not.toContainEqual(expect.stringContaining(kept.id));
  });
});
