import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { assertBuilt, runCli, runCliWithStdin } from "./helpers/cli.js";
import { describeLivingSession } from "./helpers/living-session.js";

let home: string;
const runLabel = randomUUID();

beforeAll(async () => {
  assertBuilt();
  // The stub keeps its sessions under $XDG_STATE_HOME: a private one for this file.
  home = await mkdtemp(join(tmpdir(), "cadre-cli-living-stub-"));
});
afterAll(async () => {
  await rm(home, { recursive: true, force: true });
});

describeLivingSession({
  name: "the stub",
  startArgs: () => ["--provider", "stub", "--label", `cadre-cli-test=${runLabel}`],
  listArgs: () => ["--provider", "stub"],
  label: ["cadre-cli-test", runLabel],
  env: () => ({ XDG_STATE_HOME: home }),
  scratch: "/tmp",
  scratchInCommands: "tmp",
});

describe("run and exec with stdin and terminals", () => {
  it("run forwards its stdin to the command", async () => {
    const result = await runCliWithStdin(
      ["run", "-p", "stub", "--", "sh", "-c", "tr a-z A-Z"],
      "piped in\n",
      {
        XDG_STATE_HOME: home,
      },
    );
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe("PIPED IN\n");
  });

  it("run -i with a pipe forwards it as without -i", async () => {
    const result = await runCliWithStdin(
      ["run", "-i", "-p", "stub", "--", "sh", "-c", "test -t 0 || tr a-z A-Z"],
      "piped in\n",
      { XDG_STATE_HOME: home },
    );
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe("PIPED IN\n");
  });

  it.each([
    [["run", "-it", "-p", "stub", "--", "sh"]],
    [["run", "-t", "--", "sh"]],
    [["exec", "-it", "cadre-0123456789abcdef", "--", "sh"]],
  ])("%j without a terminal on stdin is a usage error", async (args) => {
    const result = await runCliWithStdin(args, "", { XDG_STATE_HOME: home });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/-t gives the command a terminal and needs one here/);
    expect(result.stderr.trim().split("\n")).toHaveLength(1);
  });

  it.each([
    [["exec", "--", "true"], /missing the session id/],
    [["exec", "not_an_id", "--", "true"], /"not_an_id" is not a session id/],
    [["exec", "cadre-0123456789abcdef"], /missing the command to run/],
    [["cp", "a"], /cp takes two operands/],
    [["cp", "a", "b"], /one operand must be ID:PATH/],
    [
      ["cp", "cadre-0123456789abcdef:/a", "cadre-0123456789abcdef:/b"],
      /one operand must be ID:PATH/,
    ],
    [["cp", "a", "cadre-0123456789abcdef:rel"], /must be absolute in the session/],
    [["sessions", "destroy"], /missing the id of the session/],
    [["sessions", "start", "--ttl", "soon"], /--ttl takes a duration/],
    [["attach", "cadre-0123456789abcdef"], /missing the process id/],
    [["attach", "not_an_id", "p-1"], /"not_an_id" is not a session id/],
    [["spawn", "cadre-0123456789abcdef"], /missing the command to run/],
    [["spawn", "--rows", "10", "cadre-0123456789abcdef", "--", "sh"], /add --tty/],
    [["spawn", "--tty", "--cols", "1001", "cadre-0123456789abcdef", "--", "sh"], /at most 1000/],
    [["ps"], /missing the session id/],
  ])("%j exits 2 with a one-line hint", async (args, message) => {
    const result = await runCli(args, { XDG_STATE_HOME: home });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stderr.trim().split("\n")).toHaveLength(1);
  });

  it("exec, cp, spawn, ps and attach name a session that does not exist", async () => {
    const exec = await runCli(["exec", "cadre-0123456789abcdef", "--", "true"], {
      XDG_STATE_HOME: home,
    });
    expect(exec.code).toBe(125);
    expect(exec.stderr).toMatch(/SESSION_NOT_FOUND: no session cadre-0123456789abcdef/);
    const cp = await runCli(["cp", "-p", "stub", "cadre-0123456789abcdef:/a", home], {
      XDG_STATE_HOME: home,
    });
    expect(cp.code).toBe(1);
    expect(cp.stderr).toContain("SESSION_NOT_FOUND");
    for (const [args, code] of [
      [["spawn", "-p", "stub", "cadre-0123456789abcdef", "--", "true"], 1],
      [["ps", "-p", "stub", "cadre-0123456789abcdef"], 1],
      [["attach", "-p", "stub", "cadre-0123456789abcdef", "p-1"], 125],
    ] as const) {
      const result = await runCli([...args], { XDG_STATE_HOME: home });
      expect(result.code, args[0]).toBe(code);
      expect(result.stderr).toContain("SESSION_NOT_FOUND");
    }
  });
});
