import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  AgentRuntimeError,
  CapabilityMismatchError,
  capabilityReportSchema,
  PolicyValidationError,
} from "@cadre/agent-runtime-contract";
import { describe, expect, it } from "vitest";
import { createStubProvider, stubCapabilityRows } from "../src/index.js";
import { sessionDirectories, useStubProviders } from "./helpers.js";

const unenforced = {
  memory: 64 * 1024 * 1024,
  cpu: 0.5,
  networkIsolation: true,
  readOnlyRootfs: true,
  pids: 64,
  user: "1000:1000",
  image: "busybox:1",
} as const;

describe("policy checks", () => {
  const stub = useStubProviders();

  it.each(Object.entries(unenforced))(
    "strict mode rejects %s with CAPABILITY_MISMATCH and creates nothing",
    async (field, value) => {
      const provider = await stub();
      const error = await provider.startSession({ [field]: value }).catch((e: unknown) => e);
      expect(CapabilityMismatchError.isInstance(error)).toBe(true);
      expect((error as CapabilityMismatchError).unsupportedPolicies).toEqual([field]);
      expect(await sessionDirectories(provider.stateDir)).toEqual([]);
    },
  );

  it("reports every unenforced field as enforced: false with a mechanism", async () => {
    const report = await (await stub()).capabilities();
    expect(capabilityReportSchema.parse(report)).toEqual(report);
    expect(report.isolation).toBe("none");
    for (const field of Object.keys(unenforced) as Array<keyof typeof unenforced>) {
      expect(report.policy[field]).toMatchObject({ enforced: false });
      expect(report.policy[field].advisory).toBeUndefined();
    }
  });

  it("accepts values that ask for nothing", async () => {
    const provider = await stub();
    const id = await provider.startSession({
      networkIsolation: false,
      readOnlyRootfs: false,
      minimumIsolation: "none",
      env: {},
    });
    expect((await provider.getSession(id)).state).toBe("running");
  });

  it("rejects minimumIsolation above none and unknown fields", async () => {
    const provider = await stub();
    await expect(provider.startSession({ minimumIsolation: "container" })).rejects.toMatchObject({
      code: "CAPABILITY_MISMATCH",
      unsupportedPolicies: ["minimumIsolation"],
    });
    await expect(provider.startSession({ gpu: 1 } as never)).rejects.toMatchObject({
      code: "CAPABILITY_MISMATCH",
      unsupportedPolicies: ["gpu"],
    });
    expect(await sessionDirectories(provider.stateDir)).toEqual([]);
  });

  it("rejects a malformed policy with POLICY_INVALID naming every bad path", async () => {
    const provider = await stub();
    const error = await provider
      .startSession({ memory: -1, ttlMs: Number.NaN, env: { "BAD NAME": "x" } } as never)
      .catch((e: unknown) => e);
    expect(PolicyValidationError.isInstance(error)).toBe(true);
    const paths = (error as PolicyValidationError).issues.map((i) => i.path);
    expect(paths).toEqual(expect.arrayContaining(["memory", "ttlMs"]));
    expect(paths.some((p) => p.startsWith("env"))).toBe(true);
    expect(await sessionDirectories(provider.stateDir)).toEqual([]);
  });

  it("advisory mode records the unenforced fields without enforcing them", async () => {
    const provider = await stub({ enforcement: "advisory" });
    const report = await provider.capabilities();
    for (const field of Object.keys(unenforced) as Array<keyof typeof unenforced>) {
      expect(report.policy[field]).toMatchObject({ enforced: false, advisory: true });
    }
    const id = await provider.startSession({ ...unenforced, labels: { suite: "advisory" } });
    const info = await provider.getSession(id);
    expect(info.policy).toMatchObject(unenforced);
    // Recorded, not enforced: the command still sees the host's network namespace and user.
    const result = await provider.exec(id, ["id", "-u"]);
    expect(result.stdout.trim()).toBe(String(process.getuid?.()));
    // Still no isolation to offer.
    await expect(provider.startSession({ minimumIsolation: "vm" })).rejects.toMatchObject({
      code: "CAPABILITY_MISMATCH",
    });
  });

  it("exports one static row: the strict stub", () => {
    expect(stubCapabilityRows).toHaveLength(1);
    const [row] = stubCapabilityRows;
    expect(capabilityReportSchema.parse(row)).toEqual(row);
    expect(row).toMatchObject({ providerId: "stub", isolation: "none" });
    expect(row?.policy.memory.enforced).toBe(false);
  });
});

describe("bad input", () => {
  const stub = useStubProviders();

  it("rejects malformed exec requests with POLICY_INVALID before touching the session", async () => {
    const provider = await stub();
    const id = await provider.startSession({});
    const bad: Array<[unknown, unknown]> = [
      [[], undefined],
      [[""], undefined],
      [["echo", "a\0b"], undefined],
      [["echo", 1], undefined],
      ["echo", undefined],
      [["true"], { timeoutMs: Number.NaN }],
      [["true"], { timeoutMs: -1 }],
      [["true"], { maxOutputBytes: Number.NaN }],
      [["true"], { cwd: "relative" }],
      [["true"], { cwd: "/a/../b" }],
      [["true"], { env: { A: "x\0" } }],
      [["true"], { unknownOption: 1 }],
    ];
    for (const [argv, options] of bad) {
      await expect(provider.exec(id, argv as never, options as never)).rejects.toMatchObject({
        code: "POLICY_INVALID",
      });
    }
  });

  it("answers malformed and unknown session ids with SESSION_NOT_FOUND", async () => {
    const provider = await stub();
    for (const id of ["../etc", "", "UPPER", "a/b", undefined, 42, { id: 1 }]) {
      for (const call of [
        () => provider.exec(id as never, ["true"]),
        () => provider.getSession(id as never),
        () => provider.stopSession(id as never),
        () => provider.destroySession(id as never),
      ]) {
        await expect(call()).rejects.toMatchObject({ code: "SESSION_NOT_FOUND" });
      }
    }
    await expect(provider.exec("cadre-0000000000000000", ["true"])).rejects.toMatchObject({
      code: "SESSION_NOT_FOUND",
    });
    await expect(provider.getSession("cadre-0000000000000000")).rejects.toMatchObject({
      code: "SESSION_NOT_FOUND",
    });
  });

  it("stops and destroys idempotently, also unknown well-formed ids", async () => {
    const provider = await stub();
    const id = await provider.startSession({});
    await provider.stopSession(id);
    await provider.stopSession(id);
    await provider.destroySession(id);
    await provider.destroySession(id);
    await provider.stopSession(id);
    await provider.stopSession("cadre-0000000000000000");
    await provider.destroySession("cadre-0000000000000000");
    expect(await provider.getSession(id)).toMatchObject({
      state: "ended",
      end: { cause: { kind: "stopped", by: "owner" } },
    });
    await expect(provider.getSession("cadre-0000000000000000")).rejects.toMatchObject({
      code: "SESSION_NOT_FOUND",
    });
    expect(await sessionDirectories(provider.stateDir)).toEqual([]);
  });

  it("validates filters, reap options, session options and provider options", async () => {
    const provider = await stub();
    await expect(provider.listSessions({ labels: 5 } as never)).rejects.toMatchObject({
      code: "POLICY_INVALID",
    });
    await expect(provider.reap({ olderThanMs: Number.NaN })).rejects.toMatchObject({
      code: "POLICY_INVALID",
    });
    await expect(provider.reap({ olderThanMs: -5 })).rejects.toMatchObject({
      code: "POLICY_INVALID",
    });
    await expect(provider.startSession({}, { signal: "no" } as never)).rejects.toMatchObject({
      code: "POLICY_INVALID",
    });
    expect(await sessionDirectories(provider.stateDir)).toEqual([]);
    expect(() => createStubProvider({ enforcement: "loose" } as never)).toThrow(
      PolicyValidationError,
    );
    expect(() => createStubProvider({ stateDir: "relative/dir" })).toThrow(PolicyValidationError);
  });

  it("an aborted start creates nothing", async () => {
    const provider = await stub();
    const reason = new Error("no thanks");
    await expect(provider.startSession({}, { signal: AbortSignal.abort(reason) })).rejects.toBe(
      reason,
    );
    expect(await sessionDirectories(provider.stateDir)).toEqual([]);
  });
});

describe("doctor", () => {
  const stub = useStubProviders();

  it("is ready with a writable state directory and the agent, and says there is no isolation", async () => {
    const report = await (await stub()).doctor();
    expect(report.ready).toBe(true);
    expect(report.checks.find((c) => c.id === "stub.state-dir")?.ok).toBe(true);
    // The binary that runs every command, built for this host, and a kernel it runs on.
    expect(report.checks.find((c) => c.id === "stub.agent")).toMatchObject({
      ok: true,
      required: true,
    });
    expect(report.checks.find((c) => c.id === "stub.agent")?.detail).toMatch(/static/);
    expect(report.checks.find((c) => c.id === "stub.subreaper")).toMatchObject({
      ok: true,
      required: true,
    });
    expect(report.checks.find((c) => c.id === "stub.isolation")).toMatchObject({
      ok: false,
      required: false,
    });
  });

  it("fails closed when the state directory cannot be created", async () => {
    const base = await stub();
    const file = join(base.stateDir, "a-file");
    await writeFile(file, "");
    const provider = await stub({ stateDir: join(file, "state") });
    const report = await provider.doctor();
    expect(report.ready).toBe(false);
    expect(report.checks.find((c) => c.id === "stub.state-dir")?.fix).toBeTruthy();
    const error = await provider.startSession({}).catch((e: unknown) => e);
    expect(AgentRuntimeError.isInstance(error)).toBe(true);
    expect((error as AgentRuntimeError).code).toBe("PROVIDER_UNAVAILABLE");
  });
});
