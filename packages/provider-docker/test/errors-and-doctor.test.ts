import {
  AgentRuntimeError,
  PolicyValidationError,
  ProviderUnavailableError,
  SessionNotFoundError,
} from "@cadre/agent-runtime-contract";
import { agentBinaryPath } from "@cadre/agent-runtime-sandbox-agent";
import { describe, expect, it } from "vitest";
import { agentCheck } from "../src/doctor-checks.js";
import { createDockerProvider, type DockerRuntime } from "../src/index.js";
import { containersWithLabels, dockerTestsUnavailable, testImage } from "./docker-test-env.js";
import { useDockerSessions } from "./session-tracker.js";

describe("daemon unreachable (no daemon needed)", () => {
  const provider = createDockerProvider({ socketPath: "/nonexistent/cadre-test/docker.sock" });

  it("startSession fails with PROVIDER_UNAVAILABLE saying how to start the daemon", async () => {
    const error = await provider.startSession({}).catch((e: unknown) => e);
    expect(ProviderUnavailableError.isInstance(error)).toBe(true);
    const unavailable = error as ProviderUnavailableError;
    expect(unavailable.message).toContain("unix:///nonexistent/cadre-test/docker.sock");
    expect(unavailable.message).toContain("start the daemon");
    expect(unavailable.checks.map((c) => [c.id, c.ok])).toEqual([["docker.daemon", false]]);
  });

  it("still reports a bad policy as POLICY_INVALID first", async () => {
    const error = await provider.startSession({ memory: -1 }).catch((e: unknown) => e);
    expect(PolicyValidationError.isInstance(error)).toBe(true);
  });

  it("doctor reports the daemon check as failed, with its fix", async () => {
    const report = await provider.doctor();
    expect(report.ready).toBe(false);
    // The connection's security first (a Unix socket: fine), then the daemon that is not there.
    expect(report.checks[0]).toMatchObject({ id: "docker.connection", ok: true });
    const daemon = report.checks.find((c) => c.id === "docker.daemon");
    expect(daemon).toMatchObject({ ok: false, required: true });
    expect(daemon?.fix).toBeTruthy();
  });

  it("exec on an id that cannot be a session never reaches the daemon", async () => {
    for (const id of ["../etc", "deadbeef", ""]) {
      await expect(provider.exec(id, ["true"])).rejects.toSatisfy((e) =>
        SessionNotFoundError.isInstance(e),
      );
    }
  });
});

/** uname's name of this host's architecture, as the agent binary check says it. */
const uname =
  process.arch === "arm64" ? "aarch64" : process.arch === "x64" ? "x86_64" : process.arch;

describe("the agent binary check (no daemon needed)", () => {
  const other = process.arch === "arm64" ? "x64" : "arm64";

  it("is ok for the package's binary of this host's architecture, naming it and its machine", () => {
    const binary = agentBinaryPath();
    expect(binary).toBeDefined();
    const check = agentCheck(binary!, true);
    expect(check).toMatchObject({ id: "docker.agent", ok: true, required: true });
    expect(check.detail).toBe(
      `${binary}: static ${uname} executable; mounted read-only into each session`,
    );
  });

  it("fails for a binary of the other architecture, and for none, with the fix", () => {
    const foreign = agentBinaryPath(other);
    expect(foreign).toBeDefined();
    const wrong = agentCheck(foreign!, true);
    expect(wrong).toMatchObject({ id: "docker.agent", ok: false, required: true });
    expect(wrong.detail).toContain(`but this host is ${uname}`);
    expect(wrong.fix).toContain("musl-tools");
    const none = agentCheck(null, true);
    expect(none).toMatchObject({ id: "docker.agent", ok: false });
    expect(none.detail).toContain(`none for ${process.arch}`);
  });

  it("is ok for a daemon elsewhere, which gets the binary through the Engine API", () => {
    const check = agentCheck(agentBinaryPath()!, false);
    expect(check).toMatchObject({ id: "docker.agent", ok: true, required: true });
    expect(check.detail).toContain("copied into each session through the Engine API");
  });

  it("refuses plain TCP without insecure: true before any call, and fails closed with it", async () => {
    const plain = createDockerProvider({ host: "127.0.0.1", port: 9 });
    const refused = await plain.startSession({}).catch((e: unknown) => e);
    expect(ProviderUnavailableError.isInstance(refused)).toBe(true);
    expect((refused as ProviderUnavailableError).checks.map((c) => c.id)).toEqual([
      "docker.connection",
    ]);
    expect((refused as Error).message).toContain("plain TCP without TLS");
    const report = await plain.doctor();
    expect(report.ready).toBe(false);
    expect(report.checks).toEqual([
      expect.objectContaining({ id: "docker.connection", ok: false, required: true }),
    ]);
    await plain.close();
    // Nothing listens there: with insecure: true, unavailable, and doctor says INSECURE.
    const insecure = createDockerProvider({ host: "127.0.0.1", port: 9, insecure: true });
    const error = await insecure.startSession({}).catch((e: unknown) => e);
    expect(AgentRuntimeError.isInstance(error) && error.code).toBe("PROVIDER_UNAVAILABLE");
    const loud = await insecure.doctor();
    const connection = loud.checks.find((c) => c.id === "docker.connection");
    expect(connection).toMatchObject({ ok: false, required: false });
    expect(connection?.detail).toMatch(/^INSECURE: /);
    await insecure.close();
  });
});

const unavailable = await dockerTestsUnavailable("runc");
describe.skipIf(unavailable !== undefined && process.env.CI !== "true")(
  `errors and doctor on the real daemon${unavailable ? ` - skipped: ${unavailable}` : ""}`,
  () => {
    const sessions = useDockerSessions("runc");

    it("a missing image is a typed error naming it and how to load it, and creates nothing", async () => {
      const image = "cadre-test/not-loaded:0";
      const error = await sessions.start({ image }).catch((e: unknown) => e);
      expect(ProviderUnavailableError.isInstance(error)).toBe(true);
      expect((error as Error).message).toContain(image);
      expect((error as Error).message).toContain("docker load");
      expect(await containersWithLabels(sessions.runLabels)).toEqual([]);
    });

    it("a runtime the provider does not know is refused, never replaced by runc", async () => {
      // The option's type allows runc, crun and runsc only; the options schema refuses anything else
      // before a session could start (a config file naming another is refused by the loader with
      // the same schema). A known runtime the daemon lacks is docker.runtime.<name> in doctor.
      const error = (() => {
        try {
          return createDockerProvider({ runtime: "kata-fc" as DockerRuntime });
        } catch (e) {
          return e;
        }
      })();
      expect(PolicyValidationError.isInstance(error)).toBe(true);
      expect((error as PolicyValidationError).issues.map((i) => i.path)).toEqual(["runtime"]);
      expect(await containersWithLabels(sessions.runLabels)).toEqual([]);
    });

    it("doctor is ready on a prepared host and names the version, runtime and image", async () => {
      const report = await createDockerProvider({ runtime: "runc", image: testImage }).doctor();
      expect(report.ready).toBe(true);
      const ids = report.checks.map((c) => c.id);
      expect(ids).toEqual(
        expect.arrayContaining([
          "docker.daemon",
          "docker.runtime.runc",
          "docker.image",
          "docker.agent",
        ]),
      );
      expect(report.checks.find((c) => c.id === "docker.daemon")?.detail).toMatch(
        /Docker \S+, API \d+\.\d+/,
      );
    });

    it("doctor checks the agent binary that every session runs as its PID 1", async () => {
      const report = await createDockerProvider({ runtime: "runc", image: testImage }).doctor();
      expect(report.ready).toBe(true);
      const ids = report.checks.map((c) => c.id);
      expect(ids).toContain("docker.agent");
      expect(ids).not.toContain("docker.init");
      expect(report.checks.find((c) => c.id === "docker.agent")).toMatchObject({
        ok: true,
        detail: `${agentBinaryPath()}: static ${uname} executable; mounted read-only into each session`,
      });
    });

    it("providers with different label prefixes do not see each other's sessions", async () => {
      const other = createDockerProvider({ labelPrefix: "com.example.other/" });
      const id = await sessions.start();
      expect(
        (await sessions.provider.listSessions({ labels: sessions.runLabels })).map((s) => s.id),
      ).toEqual([id]);
      expect(await other.listSessions({ labels: sessions.runLabels })).toEqual([]);
      await expect(other.getSession(id)).rejects.toSatisfy((e) =>
        SessionNotFoundError.isInstance(e),
      );
      await other.destroySession(id);
      expect((await sessions.provider.getSession(id)).state).toBe("running");
    });

    it("stop keeps the container, exec then fails, destroy removes it", async () => {
      const id = await sessions.start();
      await sessions.provider.stopSession(id);
      await sessions.provider.stopSession(id);
      expect((await sessions.provider.getSession(id)).state).toBe("stopped");
      await expect(sessions.provider.exec(id, ["true"])).rejects.toMatchObject({
        code: "SESSION_NOT_RUNNING",
      });
      await sessions.provider.destroySession(id);
      expect(await containersWithLabels({ "cadre.agent-runtime/session-id": id })).toEqual([]);
    });
  },
);
