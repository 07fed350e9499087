import {
  AgentRuntimeError,
  BackendError,
  type CapabilityReport,
  doctorReport,
  type ExecRequest,
  policyFields,
  SessionNotFoundError,
} from "@cadre/agent-runtime-contract";
import { afterEach, describe, expect, it } from "vitest";
import {
  type BackendSession,
  type NewSession,
  type SessionBackend,
  SessionLifecycle,
} from "../src/index.js";

// Pure logic: the lifecycle's rules over a backend held in memory. Every provider's real backend
// runs the conformance suite through this same class.
function report(): CapabilityReport {
  return {
    providerId: "memory",
    isolation: "container",
    policy: Object.fromEntries(
      policyFields.map((f) => [f, { enforced: true, mechanism: "in memory" }]),
    ) as CapabilityReport["policy"],
    features: {
      streaming: true,
      stdin: true,
      files: false,
      processes: false,
      usage: false,
      ttl: true,
      persistentSessions: true,
    },
    defaults: { network: "none" },
  };
}

class MemoryBackend implements SessionBackend {
  readonly providerId = "memory";
  readonly sessions = new Map<string, BackendSession>();
  readonly calls: string[] = [];
  down = false;
  createGate: Promise<void> = Promise.resolve();
  destroyFailures = new Set<string>();

  async capabilities() {
    if (this.down) throw new BackendError("engine down", { providerId: this.providerId });
    return report();
  }
  offlineCapabilities() {
    return report();
  }
  async create(session: NewSession) {
    this.calls.push(`create ${session.id}`);
    this.sessions.set(session.id, { labels: session.labels, state: "running" });
    await this.createGate;
  }
  async exec(id: string, request: ExecRequest) {
    this.calls.push(`exec ${id}`);
    if (!this.sessions.has(id)) throw new SessionNotFoundError(id, { providerId: this.providerId });
    return {
      exitCode: 0,
      stdout: request.argv.join(" "),
      stderr: "",
      timedOut: false,
      truncated: false,
      durationMs: 0,
      cause: { kind: "exited" as const },
    };
  }
  async stop(id: string) {
    this.calls.push(`stop ${id}`);
    const s = this.sessions.get(id);
    if (s) s.state = "stopped";
  }
  async destroy(id: string) {
    this.calls.push(`destroy ${id}`);
    if (this.destroyFailures.has(id)) throw new BackendError("busy", { providerId: "memory" });
    this.sessions.delete(id);
  }
  async find(id: string) {
    return this.sessions.get(id);
  }
  async list() {
    return [...this.sessions.values()];
  }
  async doctor() {
    return doctorReport(this.providerId, []);
  }
}

let lifecycle: SessionLifecycle | undefined;
afterEach(async () => {
  await lifecycle?.close();
  lifecycle = undefined;
});

function setUp() {
  const backend = new MemoryBackend();
  lifecycle = new SessionLifecycle(backend);
  return { backend, provider: lifecycle };
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  return AgentRuntimeError.isInstance(error) ? error.code : `not a typed error: ${String(error)}`;
}

describe("SessionLifecycle", () => {
  it("answers a malformed id with SESSION_NOT_FOUND from every method, without a backend call", async () => {
    const { backend, provider } = setUp();
    for (const id of ["", "../x", "UPPER", 42, null, Symbol("s")] as unknown as string[]) {
      expect(await codeOf(provider.exec(id, ["true"]))).toBe("SESSION_NOT_FOUND");
      expect(await codeOf(provider.getSession(id))).toBe("SESSION_NOT_FOUND");
      expect(await codeOf(provider.stopSession(id))).toBe("SESSION_NOT_FOUND");
      expect(await codeOf(provider.destroySession(id))).toBe("SESSION_NOT_FOUND");
    }
    expect(backend.calls).toEqual([]);
  });

  it("checks the policy before any side effect, against the offline report when the engine is down", async () => {
    const { backend, provider } = setUp();
    backend.down = true;
    expect(await codeOf(provider.startSession({ memory: -1 }))).toBe("POLICY_INVALID");
    expect(await codeOf(provider.startSession({}))).toBe("BACKEND_ERROR");
    expect(await codeOf(provider.startSession({}, { bogus: 1 } as never))).toBe("POLICY_INVALID");
    expect(backend.calls).toEqual([]);
  });

  it("labels a session with its id, provider and owner, and lists it by the caller's labels", async () => {
    const { provider } = setUp();
    const a = await provider.startSession({ labels: { team: "a" }, env: { TOKEN: "s3cret" } });
    await provider.startSession({ labels: { team: "b" } });
    const listed = await provider.listSessions({ labels: { team: "a" } });
    expect(listed.map((s) => s.id)).toEqual([a]);
    expect(listed[0]).toMatchObject({
      providerId: "memory",
      state: "running",
      envNames: ["TOKEN"],
    });
    expect(JSON.stringify(listed)).not.toContain("s3cret");
    expect(await codeOf(provider.listSessions({ labels: { team: 1 } } as never))).toBe(
      "POLICY_INVALID",
    );
  });

  it("ignores records of another provider, and of another id, in get and list", async () => {
    const { backend, provider } = setUp();
    const id = await provider.startSession({});
    const labels = backend.sessions.get(id)!.labels;
    backend.sessions.set("cadre-0000000000000001", {
      labels: { ...labels, "cadre.agent-runtime/provider": "other" },
      state: "running",
    });
    expect((await provider.listSessions()).map((s) => s.id)).toEqual([id]);
    backend.sessions.set("cadre-0000000000000002", { labels, state: "running" });
    expect(await codeOf(provider.getSession("cadre-0000000000000002"))).toBe("SESSION_NOT_FOUND");
  });

  it("treats a session whose TTL ran out as gone, and its timer destroys it", async () => {
    const { backend, provider } = setUp();
    const id = await provider.startSession({ ttlMs: 1 });
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(await codeOf(provider.exec(id, ["true"]))).toBe("SESSION_NOT_FOUND");
    expect(await codeOf(provider.getSession(id))).toBe("SESSION_NOT_FOUND");
    expect(await provider.listSessions()).toEqual([]);
    await expect.poll(() => backend.sessions.has(id)).toBe(false);
    expect(backend.calls.filter((c) => c.startsWith("destroy"))).toEqual([`destroy ${id}`]);
  });

  it("reaps expired sessions and old ones on request, and reports each once", async () => {
    const { backend, provider } = setUp();
    const young = await provider.startSession({});
    expect(await provider.reap()).toEqual([]);
    expect(await provider.reap({ olderThanMs: 0 })).toEqual([young]);
    expect(backend.sessions.size).toBe(0);
    expect(await codeOf(provider.reap({ olderThanMs: -1 }))).toBe("POLICY_INVALID");
  });

  it("reap destroys every doomed session even when one fails, then reports the failure", async () => {
    const { backend, provider } = setUp();
    const ids = await Promise.all(Array.from({ length: 12 }, () => provider.startSession({})));
    backend.destroyFailures.add(ids[3]!);
    expect(await codeOf(provider.reap({ olderThanMs: 0 }))).toBe("BACKEND_ERROR");
    expect([...backend.sessions.keys()]).toEqual([ids[3]]);
  });

  it("an abort during the start rejects with its reason once what the start made is destroyed", async () => {
    const { backend, provider } = setUp();
    let open!: () => void;
    backend.createGate = new Promise((resolve) => {
      open = resolve;
    });
    const controller = new AbortController();
    const started = provider.startSession({}, { signal: controller.signal });
    await expect.poll(() => backend.calls.length).toBe(1);
    const reason = new Error("caller gave up");
    controller.abort(reason);
    open();
    await expect(started).rejects.toBe(reason);
    expect(backend.sessions.size).toBe(0);
    expect(backend.calls.map((c) => c.split(" ")[0])).toEqual(["create", "destroy"]);
  });
});

describe("SessionLifecycle.close", () => {
  it("waits for a TTL destroy in flight before it closes the backend", async () => {
    const { backend, provider } = setUp();
    const order: string[] = [];
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const destroy = backend.destroy.bind(backend);
    backend.destroy = async (id) => {
      order.push("destroy begins");
      await held;
      await destroy(id);
      order.push("destroy ends");
    };
    (backend as MemoryBackend & { close(): Promise<void> }).close = async () => {
      order.push("backend closed");
    };
    await provider.startSession({ ttlMs: 1 });
    await expect.poll(() => order).toEqual(["destroy begins"]);
    const closed = provider.close();
    release();
    await closed;
    expect(order).toEqual(["destroy begins", "destroy ends", "backend closed"]);
  });
});

describe("SessionLifecycle.destroySession", () => {
  it("runs one destroy per session at a time: a second caller waits for the first", async () => {
    const { backend, provider } = setUp();
    const id = await provider.startSession({});
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const destroy = backend.destroy.bind(backend);
    backend.destroy = async (target) => {
      backend.calls.push(`destroy begins ${target}`);
      await held;
      await destroy(target);
    };
    const first = provider.destroySession(id);
    const second = provider.destroySession(id);
    release();
    await Promise.all([first, second]);
    expect(backend.calls.filter((c) => c.startsWith("destroy begins"))).toHaveLength(1);
    // Once done, a later call reaches the backend again (and finds nothing).
    await provider.destroySession(id);
    expect(backend.calls.filter((c) => c.startsWith("destroy begins"))).toHaveLength(2);
  });
});
