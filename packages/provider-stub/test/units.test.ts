import { describe, expect, it } from "vitest";
import { commandEnvironment, hostPath } from "../src/sandbox-paths.js";

describe("hostPath", () => {
  const root = "/state/cadre-abc/root";

  it("maps sandbox paths under the root", () => {
    expect(hostPath(root, "/")).toBe(`${root}/`);
    expect(hostPath(root, "/work/src")).toBe(`${root}/work/src`);
    expect(hostPath(root, "/state/cadre-abc")).toBe(`${root}/state/cadre-abc`);
  });

  it("keeps a path that already lies inside the root", () => {
    expect(hostPath(root, root)).toBe(root);
    expect(hostPath(root, `${root}/tmp`)).toBe(`${root}/tmp`);
    expect(hostPath(root, `${root}-other`)).toBe(`${root}/state/cadre-abc/root-other`);
  });
});

describe("commandEnvironment", () => {
  it("layers PATH and HOME, policy env, then exec env, and adds nothing", () => {
    const env = commandEnvironment({
      root: "/r",
      policyEnv: { A: "policy", HOME: "/custom", CADRE_EXEC_ID: "kept as given" },
      execEnv: { A: "exec" },
    });
    expect(env).toEqual({
      PATH: process.env.PATH,
      HOME: "/custom",
      A: "exec",
      CADRE_EXEC_ID: "kept as given",
    });
  });
});
