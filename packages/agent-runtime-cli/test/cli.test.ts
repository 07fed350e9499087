import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createStubProvider } from "@cadre/agent-runtime-provider-stub";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  assertBuilt,
  expectInterruptDestroysSession,
  finished,
  outputContains,
  runCli,
  startCli,
} from "./helpers/cli.js";

let home: string;
let env: NodeJS.ProcessEnv;
const stubStateDir = () => join(home, "cadre-stub");

beforeAll(async () => {
  assertBuilt();
  home = await mkdtemp(join(tmpdir(), "cadre-cli-"));
  // The stub keeps its sessions under $XDG_STATE_HOME: a private one per test file.
  env = { XDG_STATE_HOME: home };
});
afterAll(async () => {
  await rm(home, { recursive: true, force: true });
});

async function stubSessions() {
  const provider = createStubProvider({ stateDir: stubStateDir() });
  try {
    return await provider.listSessions();
  } finally {
    await provider.close?.();
  }
}

describe("cadre-runtime: usage errors", () => {
  it.each([
    [["run", "--bogus", "--", "true"], /Unknown option '--bogus'/],
    [["run", "--memory", "lots", "--", "true"], /--memory takes a size/],
    [["run", "--network", "wide", "--", "true"], /--network is none or default/],
    [["run", "--provider", "vmware", "--", "true"], /unknown provider "vmware"/],
    [["run"], /missing the command to run/],
    [["frobnicate"], /unknown command "frobnicate"/],
    [[], /missing command/],
    [["doctor", "--jsn"], /Unknown option '--jsn'/],
    [["sessions", "purge"], /unknown action "purge"/],
    [["conformance"], /--provider \(or --config\) is required/],
    [["conformance", "--provider", "stub", "--runtime", "runc"], /the stub has no runtimes/],
    // Names found on Object.prototype are not commands, actions or providers.
    [["constructor"], /unknown command "constructor"/],
    [["__proto__"], /unknown command "__proto__"/],
    [["toString"], /unknown command "toString"/],
    [["sessions", "constructor"], /unknown action "constructor"/],
    [["run", "--provider", "hasOwnProperty", "--", "true"], /unknown provider "hasOwnProperty"/],
    [["run", "-p", "stub", "--allow-no-isolation", "--", "true"], /--allow-no-isolation is for/],
  ])("%j exits 2 with a one-line hint", async (args, message) => {
    const result = await runCli(args, env);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stderr.trim().split("\n")).toHaveLength(1);
    expect(result.stderr).toMatch(/Run "cadre-runtime( \w+)? --help" for usage\./);
  });

  it("prints help for the command and each subcommand", async () => {
    for (const args of [
      ["--help"],
      ["run", "--help"],
      ["doctor", "-h"],
      ["sessions", "--help"],
      ["spawn", "--help"],
      ["ps", "-h"],
      ["attach", "--help"],
    ]) {
      const result = await runCli(args, env);
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(/^Usage: cadre-runtime/);
    }
  });
});

describe("cadre-runtime: config files", () => {
  it("reports a config file that is not JSON with its path and line", async () => {
    const file = join(home, "broken.json");
    await writeFile(file, '{\n  "isolation": {\n    "provider": docker\n  }\n}\n');
    const result = await runCli(["run", "--config", file, "--", "true"], env);
    expect(result.code).toBe(125);
    expect(result.stderr).toContain("POLICY_INVALID");
    expect(result.stderr).toContain(`${file}:3:17`);
  });

  it("reports bad values with their JSON path", async () => {
    const file = join(home, "bad-values.json");
    await writeFile(
      file,
      JSON.stringify({ isolation: { provider: "docker", docker: { runtime: "lxc", colour: 1 } } }),
    );
    const result = await runCli(["doctor", "--config", file], env);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("isolation.docker.runtime");
    expect(result.stderr).toContain("isolation.docker.colour: unknown key");
  });

  it("reports a missing config file by path", async () => {
    const file = join(home, "nowhere", "cadre.config.json");
    const result = await runCli(["sessions", "list", "--config", file], env);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`${file}: no such file`);
  });

  it("refuses a config that chooses the stub without acknowledging it", async () => {
    const file = join(home, "stub.json");
    await writeFile(file, JSON.stringify({ isolation: { provider: "stub" } }));
    const result = await runCli(["run", "--config", file, "--", "true"], env);
    expect(result.code).toBe(125);
    expect(result.stderr).toContain("isolation.stub.acknowledgeNoIsolation");
  });

  it("names the package to install when the provider's package is missing", async () => {
    const missing = "@cadre/agent-runtime-provider-docker-not-installed";
    const file = join(home, "docker.json");
    await writeFile(file, JSON.stringify({ isolation: { provider: "docker" } }));
    const result = await runCli(["run", "--config", file, "--", "true"], {
      ...env,
      CADRE_RUNTIME_TEST_PACKAGE_DOCKER: missing,
    });
    expect(result.code).toBe(125);
    expect(result.stderr).toContain("PROVIDER_UNAVAILABLE");
    expect(result.stderr).toContain(`npm install ${missing}`);
  });
});

describe("cadre-runtime run on the stub", () => {
  it("streams the command's output and exits with its exit code", async () => {
    const result = await runCli(
      ["run", "--provider", "stub", "--", "sh", "-c", "echo out; echo err >&2; exit 7"],
      env,
    );
    expect(result.code).toBe(7);
    expect(result.stdout).toBe("out\n");
    expect(result.stderr).toContain("err\n");
    expect(result.stderr).toMatch(/provider stub, isolation "none"/);
    expect(result.stderr).toMatch(/WARNING: no isolation/);
    expect(await stubSessions()).toEqual([]);
  });

  it("passes environment variables and reports a timeout", async () => {
    const ok = await runCli(
      ["run", "-p", "stub", "-e", "GREETING=hi", "--", "sh", "-c", "echo $GREETING"],
      env,
    );
    expect(ok.stdout).toBe("hi\n");
    const slow = await runCli(
      ["run", "-p", "stub", "--timeout", "200ms", "--", "sleep", "30"],
      env,
    );
    expect(slow.code).toBe(137);
    expect(slow.stderr).toMatch(/timed out/);
  });

  it("refuses a limit the stub cannot enforce instead of ignoring it", async () => {
    const result = await runCli(["run", "-p", "stub", "--memory", "64m", "--", "true"], env);
    expect(result.code).toBe(125);
    expect(result.stderr).toContain("CAPABILITY_MISMATCH");
    expect(await stubSessions()).toEqual([]);
  });

  it("destroys the session on SIGINT in the middle of the command (exit 130)", async () => {
    await expectInterruptDestroysSession(
      ["run", "-p", "stub", "--label", "test=sigint"],
      stubSessions,
      { env },
    );
    // No session directory is left; the stub keeps how sessions ended in .ended for a while.
    const left = await readdir(stubStateDir()).catch(() => []);
    expect(left.filter((name) => name !== ".ended")).toEqual([]);
  });

  it("destroys the session on SIGTERM too (exit 143)", async () => {
    await expectInterruptDestroysSession(["run", "-p", "stub"], stubSessions, {
      env,
      signal: "SIGTERM",
    });
  });
});

describe("cadre-runtime run without --provider when no engine is reachable", () => {
  // Every isolating provider points at a socket that does not exist.
  const noEngines = () => ({
    ...env,
    DOCKER_HOST: `unix://${join(home, "no-docker.sock")}`,
    CONTAINERD_ADDRESS: join(home, "no-containerd.sock"),
  });

  it("does not fall back to the stub: exit 125, the command never runs", async () => {
    const marker = join(home, "ran-on-the-host");
    const result = await runCli(["run", "--", "sh", "-c", `touch ${marker}`], noEngines());
    expect(result.code).toBe(125);
    expect(result.stderr).toContain("PROVIDER_UNAVAILABLE");
    expect(result.stderr).toContain("--allow-no-isolation");
    expect(result.stderr).not.toMatch(/provider stub, isolation/);
    expect(await readdir(home)).not.toContain("ran-on-the-host");
    expect(await stubSessions()).toEqual([]);
  });

  it("says why each provider was skipped in one short line with its fix", async () => {
    const result = await runCli(["run", "--", "true"], noEngines());
    const skips = result.stderr.split("\n").filter((line) => line.includes(" not used: "));
    expect(skips.map((line) => line.split(" not used: ")[0])).toEqual([
      "cadre-runtime: docker (runsc)",
      "cadre-runtime: docker (runc)",
      "cadre-runtime: kata",
    ]);
    for (const line of skips) {
      expect(line.length).toBeLessThanOrEqual(240);
      expect(line).toMatch(/failed.*(; fix: |: )\S/);
    }
    // The engines' raw texts stay in the doctor report.
    expect(result.stderr).not.toContain("Resolution note");
    expect(result.stderr).not.toContain(process.env.PATH ?? "no PATH");
  });

  it("--allow-no-isolation falls back to the stub, and says so", async () => {
    const result = await runCli(["run", "--allow-no-isolation", "--", "echo", "hi"], noEngines());
    expect(result.code).toBe(0);
    expect(result.stdout).toBe("hi\n");
    expect(result.stderr).toMatch(/--allow-no-isolation: falling back to the stub/);
    expect(result.stderr).toMatch(/WARNING: no isolation/);
  });

  it("npm run demo passes --allow-no-isolation and tells the user", async () => {
    const demo = await readFile(
      fileURLToPath(new URL("../../../scripts/demo.sh", import.meta.url)),
      "utf8",
    );
    expect(demo).toMatch(/cadre-runtime\.js run --allow-no-isolation/);
    expect(demo).toMatch(/echo .*no isolation/);
  });
});

describe("cadre-runtime never prints an env value", () => {
  const secret = "sk-live-cli-5c0ffee1";

  it("not in run's output, sessions list (JSON or table), nor in errors", async () => {
    const child = startCli(
      [
        "run",
        "-p",
        "stub",
        "-e",
        `API_TOKEN=${secret}`,
        "--",
        "sh",
        "-c",
        "echo started; sleep 120",
      ],
      env,
    );
    const done = finished(child);
    await outputContains(child, "started");
    const outputs = [
      await runCli(["sessions", "list", "--provider", "stub", "--json"], env),
      await runCli(["sessions", "list", "--provider", "stub"], env),
      await runCli(["sessions", "list", "--json"], env),
      await runCli(
        ["run", "-p", "stub", "-e", `API_TOKEN=${secret}`, "--memory", "64m", "--", "true"],
        env,
      ),
      await runCli(["run", "-p", "stub", "-e", `BAD NAME=${secret}`, "--", "true"], env),
    ];
    const listed = JSON.parse(outputs[0]!.stdout) as Array<{ envNames: string[] }>;
    expect(listed.map((s) => s.envNames)).toEqual([["API_TOKEN"]]);
    expect(outputs[3]!.stderr).toContain("CAPABILITY_MISMATCH");
    expect(outputs[4]!.code).not.toBe(0);
    child.kill("SIGINT");
    outputs.push(await done);
    for (const output of outputs) {
      expect(`${output.stdout}${output.stderr}`).not.toContain(secret);
    }
  });
});

describe("cadre-runtime doctor and sessions", () => {
  it("doctor --json parses and covers every provider", async () => {
    const result = await runCli(["doctor", "--json"], env);
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout) as {
      providers: Array<{ providerId: string; ready: boolean; checks: unknown[] }>;
    };
    expect(report.providers.map((p) => p.providerId)).toEqual(["stub", "docker", "kata"]);
    const stub = report.providers.find((p) => p.providerId === "stub");
    expect(stub?.ready).toBe(true);
    for (const provider of report.providers) expect(provider.checks.length).toBeGreaterThan(0);
  });

  it("doctor --provider names the fix for a failed check and exits 1 when not ready", async () => {
    const result = await runCli(["doctor", "--provider", "kata", "--json"], {
      ...env,
      CADRE_RUNTIME_TEST_PACKAGE_KATA: "@cadre/kata-not-installed",
    });
    expect(result.code).toBe(1);
    const report = JSON.parse(result.stdout) as {
      providers: Array<{ ready: boolean; checks: Array<{ ok: boolean; fix?: string }> }>;
    };
    expect(report.providers[0]?.ready).toBe(false);
    expect(report.providers[0]?.checks[0]?.fix).toBe("npm install @cadre/kata-not-installed");
  });

  it("sessions list and reap read the stub's backend", async () => {
    const list = await runCli(["sessions", "list", "--provider", "stub", "--json"], env);
    expect(list.code).toBe(0);
    expect(JSON.parse(list.stdout)).toEqual([]);
    const reap = await runCli(["sessions", "reap", "--provider", "stub", "--json"], env);
    expect(reap.code).toBe(0);
    expect(JSON.parse(reap.stdout)).toEqual({ reaped: [] });
  });
});
