import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { createProvider, loadConfig } from "@cadre/agent-runtime";
import {
  AgentRuntimeError,
  type IsolationProvider,
  isSessionId,
  parseExecRequest,
} from "@cadre/agent-runtime-contract";
import { createDockerProvider } from "@cadre/agent-runtime-provider-docker";
import { createKataProvider, type KataProviderOptions } from "@cadre/agent-runtime-provider-kata";
import { createStubProvider } from "@cadre/agent-runtime-provider-stub";
import Docker from "dockerode";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  censusTotal,
  containerdCensus,
  stubCensus,
  targetOptions,
  testHost,
  within,
} from "../src/index.js";
import {
  argvArb,
  execOptionsArb,
  isolationConfigArb,
  policyArb,
  sessionIdArb,
} from "./support/arbitraries.js";
import { describeTarget } from "./support/available.js";

const numRuns = 1000;
/** Each case must settle within this: a hang is a failure, not a slow test. */
const caseBoundMs = 15_000;

/** Runs `call`; it must resolve, or reject with a typed error. Returns what it resolved with. */
async function typedOutcome<T>(call: () => Promise<T>, what: string): Promise<T | undefined> {
  try {
    return await within(Promise.resolve().then(call), caseBoundMs, what);
  } catch (error) {
    if (!AgentRuntimeError.isInstance(error)) {
      throw new Error(`${what} threw an untyped error: ${String(error)}`, { cause: error });
    }
    return undefined;
  }
}

/** The caller's labels plus a run label, when the policy's labels can take one. */
function labelled(policy: unknown, runLabel: Record<string, string>): unknown {
  if (typeof policy !== "object" || policy === null || Array.isArray(policy)) return policy;
  if (Object.getPrototypeOf(policy) !== Object.prototype) return policy;
  const labels = (policy as { labels?: unknown }).labels;
  if (labels !== undefined && (typeof labels !== "object" || labels === null)) return policy;
  return { ...policy, labels: { ...(labels as object), ...runLabel } };
}

/** Arguments that parseExecRequest refuses: checked before the session is even looked up. */
const invalidExecArb = fc.tuple(argvArb, execOptionsArb).filter(([argv, options]) => {
  try {
    parseExecRequest(argv, options);
    return false;
  } catch {
    return true;
  }
});

/**
 * argv for the stub, which runs it on the host: a runnable argv always starts with a harmless
 * program; malformed ones stay malformed.
 */
const hostSafeArgvArb = fc
  .tuple(argvArb, fc.constantFrom("echo", "printf", "true", "/nonexistent/program", "env"))
  .map(([argv, program]) =>
    Array.isArray(argv) && typeof argv[0] === "string" && argv[0] !== "" && !argv[0].includes("\0")
      ? [program, ...argv.slice(1)]
      : argv,
  );

describe("fuzzing the stub (every input, valid ones run for real)", () => {
  let stateDir: string;
  let provider: IsolationProvider;
  let sessionId: string;
  const runLabel = { "cadre.reliability/fuzz-run": String(process.pid) };

  beforeAll(async () => {
    stateDir = await mkdtemp(join(tmpdir(), "cadre-rel-fuzz-stub-"));
    provider = createStubProvider({ stateDir });
    sessionId = await provider.startSession({ labels: runLabel });
  });

  afterAll(async () => {
    await provider.destroySession(sessionId);
    expect(await stubCensus(stateDir, {})).toEqual({ sessionDirs: 0 });
    await provider.close?.();
    await rm(stateDir, { recursive: true, force: true });
  });

  it(`policies: ${numRuns} cases, typed errors only, a session only when accepted`, async () => {
    await fc.assert(
      fc.asyncProperty(policyArb, async (policy) => {
        const id = await typedOutcome(
          () => provider.startSession(labelled(policy, runLabel) as never),
          "startSession",
        );
        if (id !== undefined) await provider.destroySession(id);
        // Only the long-lived session of this suite is on disk: nothing partial stays.
        expect((await stubCensus(stateDir, {})).sessionDirs).toBe(1);
      }),
      { numRuns },
    );
  });

  it(`argv, env and exec options: ${numRuns} cases, typed errors or results`, async () => {
    await fc.assert(
      fc.asyncProperty(hostSafeArgvArb, execOptionsArb, async (argv, options) => {
        const result = await typedOutcome(
          () =>
            provider.exec(
              sessionId,
              argv as string[],
              {
                ...(typeof options === "object" && options !== null ? options : {}),
                timeoutMs: 5_000,
              } as never,
            ),
          "exec",
        );
        if (result) expect(typeof result.exitCode).toBe("number");
      }),
      { numRuns },
    );
  });

  it(`session ids: ${numRuns} cases`, async () => {
    await fc.assert(
      fc.asyncProperty(sessionIdArb, async (id) => {
        fc.pre(id !== sessionId);
        await expectUnknownSession(provider, id);
      }),
      { numRuns },
    );
  });
});

/** An id that is no session: get and exec give SESSION_NOT_FOUND, stop and destroy resolve. */
async function expectUnknownSession(provider: IsolationProvider, id: unknown): Promise<void> {
  const calls: (() => Promise<unknown>)[] = [
    () => provider.getSession(id as string),
    () => provider.exec(id as string, ["true"]),
  ];
  for (const call of calls) {
    const error = await within(Promise.resolve().then(call), caseBoundMs, "call").then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(AgentRuntimeError.isInstance(error), String(error)).toBe(true);
    expect((error as AgentRuntimeError).code).toBe("SESSION_NOT_FOUND");
  }
  if (isSessionId(id)) {
    await within(provider.stopSession(id), caseBoundMs, "stopSession");
    await within(provider.destroySession(id), caseBoundMs, "destroySession");
  } else {
    await typedOutcome(() => provider.stopSession(id as string), "stopSession");
    await typedOutcome(() => provider.destroySession(id as string), "destroySession");
  }
}

describe("fuzzing config files and createProvider()", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "cadre-rel-fuzz-config-"));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  const stateDirs = fc
    .constantFrom("relative/dir", "/")
    .map((d) => (d === "/" ? join(tmpdir(), "cadre-rel-fuzz-config-state") : d));

  it(`createProvider(config): ${numRuns} cases, typed errors only`, async () => {
    await fc.assert(
      fc.asyncProperty(isolationConfigArb(stateDirs), async (config) => {
        const provider = await typedOutcome(
          () => createProvider(config as never),
          "createProvider",
        );
        await provider?.close?.();
      }),
      { numRuns },
    );
  });

  it(`loadConfig(file): ${numRuns} cases of text, bytes and JSON, typed errors only`, async () => {
    const content = fc.oneof(
      fc.string({ maxLength: 200 }),
      fc.uint8Array({ maxLength: 200 }),
      fc.json(),
      isolationConfigArb(stateDirs).map((isolation) => {
        try {
          return JSON.stringify({ isolation });
        } catch {
          return "{";
        }
      }),
    );
    await fc.assert(
      fc.asyncProperty(content, async (text) => {
        const file = join(dir, `${randomBytes(6).toString("hex")}.json`);
        await writeFile(file, text);
        try {
          await typedOutcome(() => loadConfig(file), "loadConfig");
        } finally {
          await rm(file, { force: true });
        }
      }),
      { numRuns },
    );
    await typedOutcome(() => loadConfig(join(dir, "missing.json")), "loadConfig of a missing file");
    await typedOutcome(() => loadConfig(dir), "loadConfig of a directory");
  });
});

/** Policies every provider refuses: a wrong type somewhere, or a field no provider knows. */
const refusedPolicyArb = fc.oneof(
  policyArb.map((p) =>
    typeof p === "object" && p !== null && !Array.isArray(p)
      ? { ...p, unknownField: (p as { unknownField?: unknown }).unknownField ?? 1 }
      : p,
  ),
  policyArb.map((p) => ({ ...(typeof p === "object" && p !== null ? p : {}), memory: "64m" })),
);

await describeTarget(
  "docker-runc",
  "fuzzing Docker with inputs refused before any side effect",
  () => {
    // A label prefix of this run alone: anything the provider creates carries it.
    const labelPrefix = `cadre-fuzz-${randomBytes(4).toString("hex")}/`;
    const provider = createDockerProvider({ ...testHost.docker, labelPrefix });
    const docker = new Docker(testHost.docker);
    const created = async () =>
      (await docker.listContainers({ all: true, filters: { label: [`${labelPrefix}session-id`] } }))
        .length;
    afterAll(() => provider.close());

    registerEngineProperties(provider, refusedPolicyArb, created);
  },
);

await describeTarget(
  "kata-runc",
  "fuzzing containerd with every policy, in a namespace of its own",
  () => {
    // A namespace without the image: accepted policies get as far as the image lookup and must
    // roll back everything they created (the lease) before failing with a typed error.
    const namespace = `cadre-fuzz-${randomBytes(4).toString("hex")}`;
    const fifoDir = join(tmpdir(), namespace);
    const options = targetOptions("kata-runc", { containerdNamespace: namespace, fifoDir });
    const provider = createKataProvider(options as KataProviderOptions);
    const census = async () =>
      censusTotal(
        await containerdCensus({ address: options.address as string, namespace, fifoDir }, {}),
      );
    afterAll(async () => {
      await provider.close();
      await rm(fifoDir, { recursive: true, force: true });
      await promisify(execFile)("ctr", [
        "--address",
        options.address as string,
        "namespaces",
        "remove",
        namespace,
      ]).catch(() => {});
    });

    registerEngineProperties(provider, policyArb, census);
  },
);

/**
 * The properties every engine must hold for hostile input: policies fail with typed errors and
 * leave nothing (`leftovers` counts the engine's objects of this run), argv and exec options are
 * refused, and unknown session ids are SESSION_NOT_FOUND.
 */
function registerEngineProperties(
  provider: IsolationProvider,
  policies: fc.Arbitrary<unknown>,
  leftovers: () => Promise<number>,
): void {
  it(`policies: ${numRuns} cases, typed errors, nothing left in the engine`, async () => {
    await fc.assert(
      fc.asyncProperty(policies, async (policy) => {
        const id = await typedOutcome(() => provider.startSession(policy as never), "startSession");
        expect(id).toBeUndefined();
      }),
      { numRuns },
    );
    expect(await leftovers()).toBe(0);
  });

  it(`argv and exec options: ${numRuns} refused ones, typed errors`, async () => {
    await fc.assert(
      fc.asyncProperty(invalidExecArb, async ([argv, options]) => {
        const outcome = await typedOutcome(
          () => provider.exec("cadre-0000000000000000", argv as string[], options as never),
          "exec",
        );
        expect(outcome).toBeUndefined();
      }),
      { numRuns },
    );
  });

  it(`session ids: ${numRuns} unknown ones`, async () => {
    await fc.assert(
      fc.asyncProperty(sessionIdArb, (id) => expectUnknownSession(provider, id)),
      { numRuns },
    );
    expect(await leftovers()).toBe(0);
  });
}
