import { spawn } from "node:child_process";
import { once } from "node:events";
import { access, mkdir, readFile, rmdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { agentOf, sessionDirectories, useStubProviders } from "./helpers.js";

// A real pids limit: the session's agent, which forks every command, is moved into a cgroup (v1
// pids controller) whose limit is the number of tasks it already has, so its next fork fails
// with EAGAIN.
const pidsRoot = "/sys/fs/cgroup/pids";
const fixture = fileURLToPath(new URL("./fixtures/exec-on-signal.mjs", import.meta.url));
const unavailable = await access(join(pidsRoot, "cgroup.procs")).then(
  () => (process.getuid?.() === 0 ? undefined : "moving a process between cgroups needs root"),
  () => `no cgroup v1 pids controller at ${pidsRoot}`,
);

describe("an exec that cannot start because no process is left", () => {
  const stub = useStubProviders();

  it.skipIf(unavailable !== undefined && process.env.CI !== "true")(
    "rejects with RESOURCE_LIMIT (pids) and says what to do",
    async () => {
      expect(unavailable).toBeUndefined();
      const provider = await stub();
      const cgroup = join(pidsRoot, `cadre-stub-test-${process.pid}-${Date.now()}`);
      const owner = spawn(process.execPath, [fixture, provider.stateDir], {
        stdio: ["pipe", "pipe", "inherit"],
      });
      const exited = once(owner, "exit");
      const lines = owner.stdout.setEncoding("utf8");
      try {
        expect(String((await once(lines, "data"))[0])).toBe("ready\n");
        const [id] = await sessionDirectories(provider.stateDir);
        const agent = await agentOf(provider.stateDir, id as string);
        await mkdir(cgroup);
        await writeFile(join(cgroup, "cgroup.procs"), String(agent.pid));
        const current = (await readFile(join(cgroup, "pids.current"), "utf8")).trim();
        await writeFile(join(cgroup, "pids.max"), current);
        owner.stdin.write("go\n");
        const outcome = JSON.parse(String((await once(lines, "data"))[0])) as Record<
          string,
          string
        >;
        expect(outcome).toMatchObject({ code: "RESOURCE_LIMIT", resource: "pids" });
        expect(outcome.message).toMatch(/EAGAIN.*destroySession/);

        // With room again, the same session runs commands: the limit ended one call, nothing more.
        await writeFile(join(cgroup, "pids.max"), "max");
        owner.stdin.write("go\n");
        expect(JSON.parse(String((await once(lines, "data"))[0]))).toEqual({ exitCode: 0 });
      } finally {
        owner.kill("SIGKILL");
        await exited;
        // The agent outlives its owner: the session goes with the test's cleanup, then the cgroup.
        for (const session of await provider.listSessions()) {
          await provider.destroySession(session.id);
        }
        await rmdir(cgroup).catch(() => undefined);
      }
    },
  );
});
