import {
  chmodSync,
  copyFileSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { agentBinaryPath, executableAgent } from "../src/agent-binary.js";

describe("an agent binary installed without its exec bit", () => {
  let dir: string;
  let saved: string | undefined;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "cadre-agent-binary-"));
    saved = process.env.XDG_CACHE_HOME;
    process.env.XDG_CACHE_HOME = join(dir, "cache");
  });
  afterEach(() => {
    if (saved === undefined) delete process.env.XDG_CACHE_HOME;
    else process.env.XDG_CACHE_HOME = saved;
    rmSync(dir, { recursive: true, force: true });
  });

  const packaged = () => {
    const path = join(dir, "cadre-agent-x86_64");
    copyFileSync(agentBinaryPath()!, path);
    chmodSync(path, 0o644); // as pnpm packs it
    return path;
  };

  it("is run from an executable copy in this user's cache, with the same bytes", () => {
    const source = packaged();
    const copy = executableAgent(source);
    expect(copy.startsWith(join(dir, "cache", "cadre-agent"))).toBe(true);
    expect(statSync(copy).mode & 0o777).toBe(0o555);
    expect(readFileSync(copy).equals(readFileSync(source))).toBe(true);
    expect(executableAgent(source)).toBe(copy);
  });

  it("is copied again when the cached copy was changed", () => {
    const source = packaged();
    const copy = executableAgent(source);
    chmodSync(copy, 0o755);
    writeFileSync(copy, "#!/bin/sh\necho not the agent\n");
    expect(executableAgent(source)).toBe(copy);
    expect(readFileSync(copy).equals(readFileSync(source))).toBe(true);
  });

  it("is not copied into a cache others can write to", () => {
    const source = packaged();
    const cache = join(dir, "cache");
    executableAgent(source);
    chmodSync(cache, 0o777);
    expect(() => executableAgent(source)).toThrow(/only it can write to/);
  });

  it("is the package's own path when it is executable", () => {
    const path = agentBinaryPath()!;
    expect(executableAgent(path)).toBe(path);
  });
});
