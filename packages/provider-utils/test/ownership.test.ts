import { spawn } from "node:child_process";
import { once } from "node:events";
import { hostname } from "node:os";
import { isSessionId } from "@cadre/agent-runtime-contract";
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

  it("a killed process is gone, and a reused pid with another start time is gone too", async () => {
    const child = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"]);
    const owner = `${hostname()}/${child.pid}/${currentOwner().split("/")[2]}`;
    child.kill("SIGKILL");
    await once(child, "exit");
    expect(ownerStatus(owner)).toBe("gone");
    // This process's pid with a start time that is not its own: a reused pid.
    expect(ownerStatus(`${hostname()}/${process.pid}/1`)).toBe("gone");
  });

  it("owners on another host are unknown, never reaped for that alone", () => {
    expect(ownerStatus("elsewhere.example/123/456")).toBe("unknown");
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
    expect(isReapable({ ...noTtl, owner: `${hostname()}/999999999/1` }, 10)).toBe(true);
  });
});
