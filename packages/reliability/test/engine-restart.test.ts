import { mkdtemp } from "node:fs/promises";
import { join } from "node:path";
import { describeWhenAvailable } from "@cadre/agent-runtime-conformance";
import {
  AgentRuntimeError,
  type IsolationPolicy,
  type IsolationProvider,
  SessionNotRunningError,
} from "@cadre/agent-runtime-contract";
import { createDockerProvider } from "@cadre/agent-runtime-provider-docker";
import { createKataProvider, type KataProviderOptions } from "@cadre/agent-runtime-provider-kata";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  censusTotal,
  containerdCensus,
  createTarget,
  dockerCensus,
  removeTree,
  ThrowawayContainerd,
  ThrowawayDockerd,
  targetOptions,
  testHost,
  within,
} from "../src/index.js";

/** How long a call may take while its engine is down or restarting: a bound, never a hang. */
const boundMs = 30_000;
const runLabel = { "cadre.reliability/restart-run": String(process.pid) };

/**
 * Resolves when the exec has printed its first output; it then runs `then` (by default until
 * killed).
 */
function longExec(provider: IsolationProvider, id: string, then = "exec sleep 600") {
  let started!: () => void;
  const running = new Promise<void>((resolve) => {
    started = resolve;
  });
  const result = provider.exec(id, ["sh", "-c", `echo running; ${then}`], {
    onStdout: () => started(),
  });
  result.catch(() => {});
  return { running, result };
}

async function expectTypedFailure(
  call: Promise<unknown>,
  what: string,
): Promise<AgentRuntimeError> {
  const error = await within(call, boundMs, what).then(
    (value) => new Error(`${what} resolved with ${JSON.stringify(value)}`),
    (e: unknown) => e,
  );
  expect(AgentRuntimeError.isInstance(error), `${what}: ${String(error)}`).toBe(true);
  return error as AgentRuntimeError;
}

/** Retries `call` until it answers: the provider reconnects on its own, on the next calls. */
async function untilAnswered<T>(call: () => Promise<T>, what: string): Promise<T> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      return await within(call(), boundMs, what);
    } catch (error) {
      if (!AgentRuntimeError.isInstance(error)) throw error;
      if (Date.now() > deadline) throw error;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

/** Private engines need root (a containerd, a dockerd and a bridge of their own). */
const rootReason =
  process.getuid?.() === 0 ? undefined : "starting private engines needs root (run as root)";
const hostReason = rootReason ?? (await createTarget("kata-runc").unavailableReason());

describeWhenAvailable("engine restarted mid-session: private containerd", hostReason, () => {
  let dir: string;
  let engine: ThrowawayContainerd;
  let provider: ReturnType<typeof createKataProvider>;
  let options: KataProviderOptions;
  let census: () => Promise<number>;

  beforeAll(async () => {
    dir = await mkdtemp("/tmp/cadre-rel-ctd-");
    engine = await ThrowawayContainerd.start(dir);
    const endpoints = {
      containerdAddress: engine.address,
      containerdNamespace: "cadre-reliability",
      fifoDir: join(dir, "fifo"),
    };
    options = targetOptions("kata-runc", endpoints) as KataProviderOptions;
    provider = createKataProvider(options);
    await provider.importImage(testHost.imageArchive);
    census = async () =>
      censusTotal(
        await containerdCensus(
          { address: engine.address, namespace: "cadre-reliability", fifoDir: join(dir, "fifo") },
          runLabel,
        ),
      );
  });

  afterAll(async () => {
    if (engine && !engine.running) await engine.start();
    if (provider) {
      for (const s of await provider.listSessions({ labels: runLabel }))
        await provider.destroySession(s.id);
      expect(await census()).toBe(0);
      await provider.close();
    }
    await engine?.stop();
    if (dir) await removeTree(dir);
  });

  it("keeps commands of the sessions it holds running while it is down, fails every call that needs it with typed errors, then reconnects and tells which sessions survived", async () => {
    const policy = { image: testHost.containerdImage, labels: runLabel };
    const kept = await provider.startSession(policy);
    const stopped = await provider.startSession(policy);
    await provider.stopSession(stopped);
    // Waits, inside the sandbox, for a file the next command makes.
    const inFlight = longExec(provider, kept, "until [ -e /tmp/go ]; do sleep 0.05; done");
    await inFlight.running;

    await engine.stop();
    // The session's agent speaks over its task's FIFOs, which the shim holds, not containerd:
    // the command in flight goes on, and a new one on the same link runs.
    const whileDown = await within(
      provider.exec(kept, ["sh", "-c", "touch /tmp/go && echo while down"]),
      boundMs,
      "an exec while containerd is down",
    );
    expect(whileDown).toMatchObject({ exitCode: 0, stdout: "while down\n" });
    expect(await within(inFlight.result, boundMs, "the exec in flight")).toMatchObject({
      exitCode: 0,
      stdout: "running\n",
    });
    // What needs containerd is unavailable: the state, a start, and a link to the agent for an
    // instance that holds none.
    const other = createKataProvider(options);
    await expectEveryCallUnavailable(provider, policy, kept, stopped, other);
    await other.close();

    await engine.start();
    const sessions = await untilAnswered(
      () => provider.listSessions({ labels: runLabel }),
      "listSessions after the restart",
    );
    const states = Object.fromEntries(sessions.map((s) => [s.id, s.state]));
    // The shim outlives containerd, so the running session survived; the stopped one stays stopped.
    expect(states).toEqual({ [kept]: "running", [stopped]: "stopped" });
    const result = await within(provider.exec(kept, ["echo", "still here"]), boundMs, "exec");
    expect(result).toMatchObject({ exitCode: 0, stdout: "still here\n" });
    await provider.destroySession(kept);
    await provider.destroySession(stopped);
    expect(await census()).toBe(0);
  });
});

const dockerReason = rootReason ?? (await createTarget("docker-runc").unavailableReason());

describeWhenAvailable("engine restarted mid-session: private dockerd", dockerReason, () => {
  let dir: string;
  let engine: ThrowawayDockerd;

  beforeAll(async () => {
    dir = await mkdtemp("/tmp/cadre-rel-dkd-");
    engine = await ThrowawayDockerd.start(dir);
  });

  afterAll(async () => {
    if (engine) {
      if (!engine.running) await engine.start();
      const provider = createDockerProvider({ socketPath: engine.socketPath });
      for (const s of await provider.listSessions({ labels: runLabel }))
        await provider.destroySession(s.id);
      expect(censusTotal(await dockerCensus({ socketPath: engine.socketPath }, runLabel))).toBe(0);
      await provider.close();
      await engine.remove();
    }
    if (dir) await removeTree(dir);
  });

  describe.each(["runc", "runsc"] as const)("runtime %s", (runtime) => {
    beforeEach(async () => {
      if (!engine.running) await engine.start();
    });

    it("fails calls in flight and calls made while it is down with typed errors, then reconnects and tells which sessions survived", async () => {
      const provider = createDockerProvider({ socketPath: engine.socketPath, runtime });
      const policy = { image: testHost.dockerImage, networkIsolation: true, labels: runLabel };
      const id = await provider.startSession(policy);
      const inFlight = longExec(provider, id);
      await inFlight.running;

      await engine.stop();
      await expectTypedFailure(inFlight.result, "an exec in flight");
      await expectEveryCallUnavailable(provider, policy, id, id);

      await engine.start();
      const sessions = await untilAnswered(
        () => provider.listSessions({ labels: runLabel }),
        "listSessions after the restart",
      );
      // Without live-restore the daemon stops every container when it stops: the session is
      // listed, as stopped, and says so when used.
      expect(sessions.map((s) => [s.id, s.state])).toEqual([[id, "stopped"]]);
      const error = await expectTypedFailure(provider.exec(id, ["true"]), "exec after the restart");
      expect(SessionNotRunningError.isInstance(error)).toBe(true);
      const fresh = await provider.startSession(policy);
      expect(await provider.exec(fresh, ["echo", "new"])).toMatchObject({
        exitCode: 0,
        stdout: "new\n",
      });
      await provider.destroySession(fresh);
      await provider.destroySession(id);
      expect(censusTotal(await dockerCensus({ socketPath: engine.socketPath }, runLabel))).toBe(0);
      await provider.close();
    });
  });
});

/**
 * While the engine is down, every provider call fails with PROVIDER_UNAVAILABLE; exec through
 * `execVia` (by default the same provider).
 */
async function expectEveryCallUnavailable(
  provider: IsolationProvider,
  policy: IsolationPolicy,
  liveId: string,
  destroyId: string,
  execVia: IsolationProvider = provider,
): Promise<void> {
  const calls: [string, () => Promise<unknown>][] = [
    ["listSessions", () => provider.listSessions()],
    ["startSession", () => provider.startSession(policy)],
    ["exec", () => execVia.exec(liveId, ["true"])],
    ["getSession", () => provider.getSession(liveId)],
    ["destroySession", () => provider.destroySession(destroyId)],
  ];
  for (const [what, call] of calls) {
    const error = await expectTypedFailure(call(), what);
    expect(error.code, what).toBe("PROVIDER_UNAVAILABLE");
  }
}
