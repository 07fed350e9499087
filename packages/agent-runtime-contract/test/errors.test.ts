import { describe, expect, it } from "vitest";
import {
  AgentRuntimeError,
  BackendError,
  CapabilityMismatchError,
  ProviderUnavailableError,
  SessionNotFoundError,
  SessionNotRunningError,
} from "../src/index.js";

describe("errors", () => {
  it("carry a stable code, the provider id and the cause", () => {
    const cause = new Error("socket hang up");
    const error = new BackendError("engine failed", { providerId: "docker", cause });
    expect(error.code).toBe("BACKEND_ERROR");
    expect(error.providerId).toBe("docker");
    expect(error.cause).toBe(cause);
    expect(error.name).toBe("BackendError");
    expect(error).toBeInstanceOf(AgentRuntimeError);
  });

  it("isInstance matches by brand and code, across copies of the package", () => {
    // What a second copy of the contract would produce: same global brand, another class.
    const foreign = Object.assign(new Error("x"), {
      [Symbol.for("cadre.agent-runtime.error")]: true,
      code: "SESSION_NOT_FOUND",
    });
    expect(SessionNotFoundError.isInstance(foreign)).toBe(true);
    expect(AgentRuntimeError.isInstance(foreign)).toBe(true);
    expect(SessionNotRunningError.isInstance(foreign)).toBe(false);
    expect(AgentRuntimeError.isInstance(new Error("plain"))).toBe(false);
    expect(AgentRuntimeError.isInstance(undefined)).toBe(false);
  });

  it("CapabilityMismatchError lists fields and says what to do", () => {
    const error = new CapabilityMismatchError({ seccomp: "unknown" }, { providerId: "kata" });
    expect(error.unsupportedPolicies).toEqual(["seccomp"]);
    expect(error.message).toMatch(/seccomp/);
    expect(error.message).toMatch(/Remove these fields|choose a provider/);
  });

  it("ProviderUnavailableError carries the failed checks and their fixes", () => {
    const error = new ProviderUnavailableError("Docker is not reachable.", {
      checks: [
        {
          id: "docker.daemon",
          title: "Docker daemon",
          ok: false,
          required: true,
          detail: "ECONNREFUSED",
          fix: "start dockerd",
        },
        { id: "docker.image", title: "Image", ok: true, required: true, detail: "present" },
      ],
    });
    expect(error.checks).toHaveLength(2);
    expect(error.message).toMatch(/start dockerd/);
    expect(error.message).not.toMatch(/present/);
  });
});

describe("SessionNotFoundError with ids that are not strings", () => {
  it("describes any value without throwing", () => {
    const odd: unknown[] = [
      42,
      null,
      undefined,
      { a: 1n },
      Object.create(null),
      Symbol("s"),
      ["x"],
    ];
    for (const id of odd) {
      const error = new SessionNotFoundError(id);
      expect(typeof error.sessionId).toBe("string");
      expect(error.message).toMatch(/No session/);
    }
  });
});
