import { describe, expect, it } from "vitest";
import { engineUnavailableReason, isCi } from "../src/availability.js";

describe("engineUnavailableReason", () => {
  it("is undefined when the check answers", async () => {
    expect(await engineUnavailableReason("the engine", async () => "pong")).toBeUndefined();
  });

  it("names the engine and the failure when the check throws", async () => {
    const reason = await engineUnavailableReason("Docker at /var/run/docker.sock", () => {
      throw new Error("connect ENOENT /var/run/docker.sock");
    });
    expect(reason).toBe(
      "Docker at /var/run/docker.sock is not reachable: connect ENOENT /var/run/docker.sock",
    );
  });

  it("gives up on a check that never answers", async () => {
    const reason = await engineUnavailableReason("containerd", () => new Promise(() => {}), 20);
    expect(reason).toBe("containerd is not reachable: no answer within 20 ms");
  });
});

describe("isCi", () => {
  it.each([
    [{ CI: "true" }, true],
    [{ CI: "1" }, true],
    [{ CI: "false" }, false],
    [{}, false],
  ])("%j gives %s", (env, expected) => {
    expect(isCi(env)).toBe(expected);
  });
});
