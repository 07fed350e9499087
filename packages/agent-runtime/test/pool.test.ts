import { once } from "node:events";
import {
  AgentRuntimeError,
  BackendError,
  type IsolationPolicy,
  type IsolationProvider,
} from "@cadre/agent-runtime-contract";
import { describe, expect, it } from "vitest";
import { createProvider, SessionPool } from "../src/index.js";
import { canonicalJson } from "../src/pool/canonical-json.js";
import { poolLabels } from "../src/pool/pool-labels.js";
import { assertBuilt } from "./helpers/built.js";
import { exited, startPoolOwner, usePools } from "./helpers/pool.js";

const pools = usePools();

async function errorCode(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
    return undefined;
  } catch (error) {
    return AgentRuntimeError.isInstance(error) ? (error as AgentRuntimeError).code : String(error);
  }
}

/** A provider whose startSession fails while `failing` is true; everything else delegates. */
function flaky(provider: IsolationProvider, state: { failing: boolean }): IsolationProvider {
  return new Proxy(provider, {
    get(target, property, receiver) {
      if (property === "startSession") {
        return (policy: IsolationPolicy) =>
          state.failing
            ? Promise.reject(new BackendError("engine refused (test)"))
            : target.startSession(policy);
      }
      const value = Reflect.get(target, property, receiver);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

describe("canonicalJson", () => {
  it("ignores key order at every level and drops undefined", () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { y: 2, x: 1 }], c: undefined } })).toBe(
      canonicalJson({ a: { d: [1, { x: 1, y: 2 }] }, b: 1 }),
    );
    expect(canonicalJson({ a: 1 })).not.toBe(canonicalJson({ a: 2 }));
  });
});

describe("SessionPool over the stub", () => {
  it("hands out a prewarmed session that carries the caller's and the pool's labels", async () => {
    const pool = await pools.pool({ size: 2 });
    const policy = { labels: { team: "agents" } };
    await pool.prewarm(policy);
    const warm = pool.warmSessionIds();
    expect(warm).toHaveLength(2);
    // Idle warm sessions are the pool's, not the caller's: the pool does not list them.
    expect(await pool.listSessions({ labels: { team: "agents" } })).toEqual([]);

    const id = await pool.startSession({ labels: { team: "agents" } });
    expect(warm).toContain(id);
    expect(pool.stats()).toMatchObject({ hits: 1, misses: 0 });
    const info = await pool.getSession(id);
    expect(info.state).toBe("running");
    expect(info.labels).toEqual({
      team: "agents",
      [poolLabels.poolId]: pool.poolId,
      [poolLabels.prewarmed]: "true",
    });
    expect((await pool.listSessions({ labels: { team: "agents" } })).map((s) => s.id)).toEqual([
      id,
    ]);
    const result = await pool.exec(id, ["sh", "-c", "echo hi"]);
    expect(result.stdout).toBe("hi\n");
  });

  it("never hands out a session twice, nor one that was used or destroyed", async () => {
    const pool = await pools.pool({ size: 2 });
    await pool.prewarm({});
    const handedOut = new Set<string>();
    for (let i = 0; i < 6; i++) {
      const id = await pool.startSession({});
      expect(handedOut.has(id), `session ${id} handed out twice`).toBe(false);
      handedOut.add(id);
      await pool.exec(id, ["true"]);
      if (i % 2 === 0) await pool.destroySession(id);
    }
    for (const id of pool.warmSessionIds()) expect(handedOut.has(id)).toBe(false);

    // A warm session that somebody used behind the pool's back is dropped from the inventory.
    const [idle] = pool.warmSessionIds();
    await pool.exec(idle!, ["true"]);
    expect(pool.warmSessionIds()).not.toContain(idle);
    expect(await pool.startSession({})).not.toBe(idle);
    await pool.destroySession(idle!);
  });

  it("refills in the background after a hand-out", async () => {
    const pool = await pools.pool({ size: 1 });
    await pool.prewarm({});
    const refilled = once(pool, "warm");
    const id = await pool.startSession({});
    const [event] = (await refilled) as [{ sessionId: string }];
    expect(event.sessionId).not.toBe(id);
    expect(pool.warmSessionIds()).toEqual([event.sessionId]);
    expect(pool.stats()).toMatchObject({ warm: 1, hits: 1 });
  });

  it("starts a policy cold on a miss, then keeps it warm", async () => {
    const pool = await pools.pool({ size: 1 });
    const warmed = once(pool, "warm");
    const cold = await pool.startSession({ env: { A: "1" } });
    expect(pool.stats().misses).toBe(1);
    await warmed;
    // Same policy, keys in another order: the same pool entry.
    const hot = await pool.startSession({ env: { A: "1" }, labels: {} });
    expect(hot).not.toBe(cold);
    expect(pool.stats().hits).toBe(1);
  });

  it("keys policies by a per-pool HMAC: equal policies match, no event shows an env value", async () => {
    const secret = "sk-live-pool-7f3a9e21";
    const pool = await pools.pool({ size: 1 });
    const other = await pools.pool({ size: 1 });
    const seen: unknown[] = [];
    for (const name of ["warm", "handout", "refill-error"] as const)
      pool.on(name, (e: unknown) => seen.push(e));
    const policy = { env: { API_TOKEN: secret }, labels: { t: "hmac" } };
    const [first] = (await Promise.all([once(pool, "warm"), pool.startSession(policy)]))[0] as [
      { key: string },
    ];
    const [elsewhere] = (
      await Promise.all([once(other, "warm"), other.startSession(policy)])
    )[0] as [{ key: string }];
    const handout = once(pool, "handout");
    await pool.startSession({ labels: { t: "hmac" }, env: { API_TOKEN: secret } });
    const [handed] = (await handout) as [{ key: string }];

    expect(first.key).toMatch(/^[0-9a-f]{64}$/);
    expect(handed.key).toBe(first.key);
    // Another pool's key of the same policy differs: a key cannot be checked against a guess.
    expect(elsewhere.key).not.toBe(first.key);
    const inspected = JSON.stringify([seen, pool.stats(), await pool.listSessions()]);
    expect(inspected).not.toContain(secret);

    // Another value of the same variable is another policy.
    const misses = pool.stats().misses;
    await pool.startSession({ env: { API_TOKEN: "another" }, labels: { t: "hmac" } });
    expect(pool.stats().misses).toBe(misses + 1);
  });

  it("concurrent misses of one policy share one pool entry, so close() finds every warm session", async () => {
    const pool = await pools.pool({ size: 2 });
    const ids = await Promise.all([1, 2, 3].map(() => pool.startSession({ env: { C: "1" } })));
    expect(pool.stats().policies).toBe(1);
    await pool.close();
    const left = (await (await pools.backend()).listSessions()).map((s) => s.id);
    expect(left.sort()).toEqual([...ids].sort());
  });

  it("does not hand out a warm session that died behind its back", async () => {
    const pool = await pools.pool({ size: 1 });
    await pool.prewarm({});
    const [dead] = pool.warmSessionIds();
    await (await pools.backend()).destroySession(dead!);
    const id = await pool.startSession({});
    expect(id).not.toBe(dead);
    expect((await pool.getSession(id)).state).toBe("running");
  });

  it("checks the policy before anything else, and never pools ttlMs", async () => {
    const pool = await pools.pool({ size: 1 });
    expect(await errorCode(pool.startSession({ memory: -1 }))).toBe("POLICY_INVALID");
    expect(await errorCode(pool.startSession({ networkIsolation: true }))).toBe(
      "CAPABILITY_MISMATCH",
    );
    expect(await errorCode(pool.startSession({ someFutureField: 1 } as IsolationPolicy))).toBe(
      "CAPABILITY_MISMATCH",
    );
    expect(await (await pools.backend()).listSessions()).toEqual([]);
    expect(pool.stats()).toMatchObject({ policies: 0, creating: 0 });

    const id = await pool.startSession({ ttlMs: 60_000 });
    expect(pool.stats()).toMatchObject({ policies: 0, misses: 1 });
    expect(await errorCode(pool.prewarm({ ttlMs: 60_000 }))).toBe("POLICY_INVALID");
    await pool.destroySession(id);
  });

  it("drops the least recently used policy beyond maxPolicies, destroying its sessions", async () => {
    const pool = await pools.pool({ size: 1, maxPolicies: 1 });
    await pool.prewarm({ env: { A: "1" } });
    const [first] = pool.warmSessionIds();
    await pool.prewarm({ env: { B: "2" } });
    expect(pool.warmSessionIds()).not.toContain(first);
    expect(pool.stats().policies).toBe(1);
    await pool.close();
    expect(await (await pools.backend()).listSessions()).toEqual([]);
  });

  it("surfaces refill errors as events and stats, never as a crash, and recovers", async () => {
    const state = { failing: true };
    const pool = await pools.pool({ size: 1 }, (p) => flaky(p, state));
    const failure = once(pool, "refill-error");
    expect(await errorCode(pool.prewarm({}))).toBe("BACKEND_ERROR");
    const [event] = (await failure) as [{ error: unknown; consecutive: number }];
    expect(BackendError.isInstance(event.error)).toBe(true);
    expect(pool.stats().refillErrors).toBeGreaterThanOrEqual(1);
    expect(pool.stats().lastRefillError).toContain("engine refused");

    state.failing = false;
    await pool.prewarm({});
    expect(pool.warmSessionIds()).toHaveLength(1);
  });

  it("close() destroys every warm session, including those still being created", async () => {
    const pool = await pools.pool({ size: 3, refillConcurrency: 3 });
    await pool.prewarm({});
    const handedOut = await pool.startSession({});
    // Refills are in flight now; close must wait for them and destroy them as they land.
    expect(pool.stats().creating).toBeGreaterThan(0);
    await pool.close();
    const left = (await (await pools.backend()).listSessions()).map((s) => s.id);
    expect(left).toEqual([handedOut]);
    expect(await errorCode(pool.startSession({}))).toBe("PROVIDER_UNAVAILABLE");
  });

  it("createProvider wraps the provider in a pool when the config has a pool section", async () => {
    const provider = await createProvider({
      provider: "stub",
      stub: { acknowledgeNoIsolation: true, stateDir: await pools.stateDir() },
      pool: { size: 1 },
    });
    try {
      expect(provider).toBeInstanceOf(SessionPool);
      expect(provider.id).toBe("stub");
    } finally {
      await provider.close?.();
    }
    expect(await (await pools.backend()).listSessions()).toEqual([]);
  });
});

describe("SessionPool and its process", () => {
  it("after a crash (SIGKILL), reap() finds the warm sessions by their owner", async () => {
    assertBuilt();
    const stateDir = await pools.stateDir();
    const owner = await startPoolOwner(stateDir, 2, true);
    owner.child.kill("SIGKILL");
    expect((await exited(owner.child)).signal).toBe("SIGKILL");

    const backend = await pools.backend();
    const listed = await backend.listSessions({ labels: { [poolLabels.poolId]: owner.poolId } });
    expect(listed.map((s) => s.id).sort()).toEqual([...owner.warm].sort());
    expect((await backend.reap()).sort()).toEqual([...owner.warm].sort());
    expect(await backend.listSessions()).toEqual([]);
  });

  it("SIGTERM destroys the warm sessions, then the process dies of the signal", async () => {
    assertBuilt();
    const stateDir = await pools.stateDir();
    const owner = await startPoolOwner(stateDir, 2, true);
    expect(owner.warm).toHaveLength(2);
    owner.child.kill("SIGTERM");
    expect((await exited(owner.child)).signal).toBe("SIGTERM");
    expect(await (await pools.backend()).listSessions()).toEqual([]);
  });
});
