import { describe, expect, it } from "vitest";
import {
  CapabilityMismatchError,
  type CapabilityReport,
  checkPolicy,
  isSessionId,
  PolicyValidationError,
  parseExecRequest,
  policyFields,
} from "../src/index.js";

function report(enforced: string[], overrides: Partial<CapabilityReport> = {}): CapabilityReport {
  const policy = Object.fromEntries(
    policyFields.map((f) => [f, { enforced: enforced.includes(f), mechanism: `test ${f}` }]),
  ) as CapabilityReport["policy"];
  return {
    providerId: "test",
    isolation: "container",
    policy,
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
    ...overrides,
  };
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error("expected a throw");
}

describe("checkPolicy: schema step", () => {
  it("names every bad path at once", () => {
    const error = thrown(() =>
      checkPolicy(
        { memory: -1, cpu: Number.NaN, pids: 1.5, env: { "BAD-NAME": "x" }, workdir: "rel" },
        report([...policyFields]),
      ),
    );
    expect(PolicyValidationError.isInstance(error)).toBe(true);
    const paths = (error as PolicyValidationError).issues.map((i) => i.path).sort();
    expect(paths).toEqual(["cpu", "env.BAD-NAME", "memory", "pids", "workdir"]);
    expect((error as PolicyValidationError).code).toBe("POLICY_INVALID");
  });

  it("rejects a policy that is not an object", () => {
    expect(PolicyValidationError.isInstance(thrown(() => checkPolicy("x", report([]))))).toBe(true);
    expect(PolicyValidationError.isInstance(thrown(() => checkPolicy(null, report([]))))).toBe(
      true,
    );
  });

  it("rejects reserved label keys and NUL bytes", () => {
    const error = thrown(
      () =>
        checkPolicy(
          { labels: { "cadre.agent-runtime/owner": "me" }, env: { A: "x\0y" } },
          report([...policyFields]),
        ) as PolicyValidationError,
    ) as PolicyValidationError;
    expect(error.issues.map((i) => i.path).sort()).toEqual([
      "env.A",
      "labels.cadre.agent-runtime/owner",
    ]);
  });

  it("turns values the schema cannot even read into POLICY_INVALID, never a TypeError", () => {
    // zod compares `.length` of any object that has one; this one cannot become a primitive.
    const lengthTrap = { length: [Object.create(null)] };
    const throwingGetter = Object.defineProperty({}, "memory", {
      enumerable: true,
      get() {
        throw new Error("no");
      },
    });
    for (const policy of [{ image: lengthTrap }, { labels: { a: lengthTrap } }, throwingGetter]) {
      const error = thrown(() => checkPolicy(policy, report([...policyFields])));
      expect(PolicyValidationError.isInstance(error)).toBe(true);
      expect((error as PolicyValidationError).issues[0]?.message).toMatch(/cannot be read/);
    }
    expect(isSessionId(lengthTrap)).toBe(false);
    const exec = thrown(() => parseExecRequest(lengthTrap, {}));
    expect(PolicyValidationError.isInstance(exec)).toBe(true);
  });

  it("reports schema errors before capability errors", () => {
    const error = thrown(() => checkPolicy({ memory: "lots", seccomp: "strict" }, report([])));
    expect(PolicyValidationError.isInstance(error)).toBe(true);
  });
});

describe("checkPolicy: capability step", () => {
  it("names each unknown and each unenforced field (the seed's example)", () => {
    const error = thrown(() =>
      checkPolicy({ memory: 512_000_000, seccomp: "strict" }, report(["cpu"])),
    );
    expect(error).toBeInstanceOf(CapabilityMismatchError);
    expect((error as CapabilityMismatchError).unsupportedPolicies.sort()).toEqual([
      "memory",
      "seccomp",
    ]);
    expect((error as CapabilityMismatchError).code).toBe("CAPABILITY_MISMATCH");
  });

  it("lets false and empty maps through: they ask for nothing", () => {
    expect(
      checkPolicy(
        { networkIsolation: false, readOnlyRootfs: false, env: {}, labels: {} },
        report([]),
      ),
    ).toEqual({ networkIsolation: false, readOnlyRootfs: false, env: {}, labels: {} });
  });

  it("fails true on a field that is not enforced", () => {
    const error = thrown(() => checkPolicy({ networkIsolation: true }, report([])));
    expect((error as CapabilityMismatchError).unsupportedPolicies).toEqual(["networkIsolation"]);
  });

  it("compares minimumIsolation with the provider's level", () => {
    const r = report([], { isolation: "user-kernel" });
    expect(checkPolicy({ minimumIsolation: "container" }, r)).toEqual({
      minimumIsolation: "container",
    });
    expect(checkPolicy({ minimumIsolation: "user-kernel" }, r)).toEqual({
      minimumIsolation: "user-kernel",
    });
    const error = thrown(() => checkPolicy({ minimumIsolation: "vm" }, r));
    expect((error as CapabilityMismatchError).reasons.minimumIsolation).toMatch(/user-kernel/);
  });

  it("rejects values outside the provider's limits", () => {
    const r = report(["memory"]);
    r.policy.memory.limits = { min: 6 * 1024 * 1024 };
    const error = thrown(() => checkPolicy({ memory: 1024 }, r));
    expect((error as CapabilityMismatchError).unsupportedPolicies).toEqual(["memory"]);
    expect(checkPolicy({ memory: 64 * 1024 * 1024 }, r)).toEqual({ memory: 64 * 1024 * 1024 });
  });

  it("accepts advisory fields without claiming enforcement", () => {
    const r = report([]);
    r.policy.memory = { enforced: false, advisory: true, mechanism: "recorded only" };
    expect(checkPolicy({ memory: 1 << 20 }, r)).toEqual({ memory: 1 << 20 });
  });

  it("drops undefined values and returns known fields only", () => {
    expect(checkPolicy({ cpu: 1, image: undefined }, report(["cpu"]))).toEqual({ cpu: 1 });
  });
});
