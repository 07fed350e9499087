import { spawn } from "node:child_process";
import { once } from "node:events";
import { hostname } from "node:os";
import { isSessionId, sessionLabels } from "@cadre/agent-runtime-contract";
import { describe, expect, it } from "vitest";
import {
  buildSessionLabels,
  currentOwner,
  isReapable,
  matchesLabels,
  newSessionId,
  ownerStatus,
  sessionInfoFromLabels,
} from "../src/index.js";

describe("ownership", () => {
  it("the current process is alive", () => {
    expect(ownerStatus(currentOwner())).toBe("alive");
  });

  it("names host, boot, PID namespace, pid and start time", () => {
    const [host, boot, pidNamespace, pid, start] = currentOwner().split("/");
    expect(host).toBe(hostname());
    expect(boot).toMatch(/^[0-9a-f-]{8,64}$/);
    expect(pidNamespace).toMatch(/^\d+$/);
    expect(pid).toBe(String(process.pid));
    expect(Number(start)).toBeGreaterThan(0);
  });

  it("a killed process is gone, and a reused pid with another start time is gone too", async () => {
    const [host, boot, pidNamespace, , start] = currentOwner().split("/");
    const child = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"]);
    const owner = [host, boot, pidNamespace, child.pid, start].join("/");
    child.kill("SIGKILL");
    await once(child, "exit");
    expect(ownerStatus(owner)).toBe("gone");
    // This process's pid with a start time that is not its own: a reused pid.
    expect(ownerStatus([host, boot, pidNamespace, process.pid, 1].join("/"))).toBe("gone");
  });

  it("owners on another host, boot or PID namespace are unknown, never reaped for that alone", () => {
    const [host, boot, pidNamespace, pid, start] = currentOwner().split("/");
    expect(ownerStatus(["elsewhere.example", boot, pidNamespace, pid, start].join("/"))).toBe(
      "unknown",
    );
    const otherBoot = "00000000-0000-4000-8000-000000000000";
    expect(ownerStatus([host, otherBoot, pidNamespace, 999_999, 1].join("/"))).toBe("unknown");
    expect(ownerStatus([host, boot, "4026500000", 999_999, 1].join("/"))).toBe("unknown");
    expect(ownerStatus([host, "-", "-", 999_999, 1].join("/"))).toBe("unknown");
    // The older host/pid/start format cannot tell PID namespaces apart.
    expect(ownerStatus(`${host}/999999/1`)).toBe("unknown");
    expect(ownerStatus("garbage")).toBe("unknown");
  });
});

describe("session labels", () => {
  it("round-trip a session through backend labels", () => {
    const id = newSessionId();
    expect(isSessionId(id)).toBe(true);
    const createdAt = new Date("2026-01-01T00:00:00.000Z");
    const labels = buildSessionLabels({
      sessionId: id,
      providerId: "docker",
      policy: { memory: 1 << 26, ttlMs: 60_000, labels: { team: "a" } },
      createdAt,
    });
    const info = sessionInfoFromLabels(labels, "running");
    expect(info).toMatchObject({
      id,
      providerId: "docker",
      state: "running",
      labels: { team: "a" },
      createdAt: createdAt.toISOString(),
      expiresAt: "2026-01-01T00:01:00.000Z",
      owner: currentOwner(),
      policy: { memory: 1 << 26, ttlMs: 60_000, labels: { team: "a" } },
    });
    expect(matchesLabels(info!, { team: "a" })).toBe(true);
    expect(matchesLabels(info!, { team: "b" })).toBe(false);
  });

  it("carry env names, never env values, also when an older label stored them", () => {
    const secret = "sk-live-0123456789";
    const policy = { env: { API_TOKEN: secret, B: "x" }, labels: { team: "a" } };
    const labels = buildSessionLabels({ sessionId: newSessionId(), providerId: "p", policy });
    expect(JSON.stringify(labels)).not.toContain(secret);
    const info = sessionInfoFromLabels(labels, "running")!;
    expect(info.envNames).toEqual(["API_TOKEN", "B"]);
    expect(info.policy).not.toHaveProperty("env");
    const legacy = { ...labels, [sessionLabels.policy]: JSON.stringify(policy) };
    expect(JSON.stringify(sessionInfoFromLabels(legacy, "running"))).not.toContain(secret);
  });

  it("list a session whose created-at or ttl label was edited into nonsense, as reapable by age", () => {
    const labels = buildSessionLabels({
      sessionId: newSessionId(),
      providerId: "p",
      policy: { ttlMs: 1000 },
    });
    for (const createdAt of ["not a date", "+999999-01-01T00:00:00Z"]) {
      const info = sessionInfoFromLabels(
        { ...labels, [sessionLabels.createdAt]: createdAt },
        "running",
      )!;
      expect(Number.isNaN(Date.parse(info.createdAt))).toBe(false);
      expect(isReapable(info, Date.now(), 60_000)).toBe(true);
    }
    const hugeTtl = { ...labels, [sessionLabels.ttl]: "1e300" };
    expect(sessionInfoFromLabels(hugeTtl, "running")?.expiresAt).toBeUndefined();
  });

  it("ignores objects without session labels", () => {
    expect(sessionInfoFromLabels({ unrelated: "1" }, "running")).toBeUndefined();
  });

  it("reaps on expired TTL, dead owner or age, and keeps live young sessions", () => {
    const base = buildSessionLabels({
      sessionId: newSessionId(),
      providerId: "stub",
      policy: { ttlMs: 1000 },
      createdAt: new Date(0),
    });
    const info = sessionInfoFromLabels(base, "running")!;
    expect(isReapable(info, 500)).toBe(false);
    expect(isReapable(info, 1000)).toBe(true);
    const noTtl = { ...info, expiresAt: undefined };
    expect(isReapable(noTtl, 10_000)).toBe(false);
    expect(isReapable(noTtl, 10_000, 5_000)).toBe(true);
    expect(isReapable({ ...noTtl, owner: deadOwner() }, 10)).toBe(true);
  });
});

/** This process's host, boot and PID namespace with a pid that runs nothing. */
function deadOwner(): string {
  const [host, boot, pidNamespace] = currentOwner().split("/");
  return [host, boot, pidNamespace, 999_999_999, 1].join("/");
}
