import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import {
  accessSync,
  constants,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { arch, tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { agentBinaryPath } from "../src/agent-binary.js";
import { type AgentExecRequest, AgentLink, AgentRefusedError } from "../src/agent-link.js";
import { readElfInfo } from "../src/elf.js";
import { hostEnv, processesWith } from "./agent-process.js";

// The package ships cadre-agent for x86_64 and aarch64; this host runs one natively (the other
// test files) and the other here under Debian's qemu-user-static, called directly: binfmt_misc
// is not needed, and may not be set up. qemu-user runs the agent and its supervisors (forks of
// it) as emulated code, but hands execve to the host kernel: the commands the agent starts are
// the host's own programs, running natively, and a program of the emulated architecture starts
// only where the kernel has a binfmt_misc handler for it.
//
// qemu-user (Debian 12's 7.2) refuses PR_SET_CHILD_SUBREAPER with EINVAL, as gVisor does, so an
// emulated agent cannot hold a command's orphans as a plain host process. It runs here as it
// does in a sandbox instead: PID 1 of a PID namespace of its own (unshare), where every orphan
// comes to it.

const foreigns: Record<string, { node: string; uname: string; machine: number }> = {
  x64: { node: "arm64", uname: "aarch64", machine: 183 },
  arm64: { node: "x64", uname: "x86_64", machine: 62 },
};
const foreign = foreigns[arch()];
const qemuName = `qemu-${foreign?.uname ?? "aarch64"}-static`;

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (!dir) continue;
    try {
      accessSync(join(dir, name), constants.X_OK);
      return join(dir, name);
    } catch {
      // not here
    }
  }
  return undefined;
}

const qemu = onPath(qemuName);
const unshare = onPath("unshare");
/**
 * A PID namespace with its own /proc, killed with unshare, and a network namespace, so that an
 * abstract socket the agent binds is not the host's; a user namespace too unless root.
 */
const unshareArgs = [
  ...(process.getuid?.() === 0 ? [] : ["--user", "--map-root-user"]),
  "--pid",
  "--net",
  "--fork",
  "--kill-child",
  "--mount-proc",
];
function namespaceProblem(): string | undefined {
  if (!unshare) return "unshare not found (util-linux)";
  try {
    execFileSync(unshare, [...unshareArgs, "true"], { stdio: "pipe" });
    return undefined;
  } catch (error) {
    return `unshare cannot make a PID namespace here: ${(error as Error).message.split("\n")[0]}`;
  }
}
const compiler = foreign && onPath(`${foreign.uname}-linux-musl-gcc`);
const agent = foreign && agentBinaryPath(foreign.node);
const unavailable = !foreign
  ? `this host is ${arch()}: the package ships x86_64 and aarch64 agents only`
  : !qemu
    ? `${qemuName} not found: apt-get install qemu-user-static (scripts/services.sh up does)`
    : !agent
      ? `no cadre-agent-${foreign.uname} in bin/: run the package's build (scripts/build-agent.sh)`
      : !compiler
        ? `${foreign.uname}-linux-musl-gcc not found: scripts/services.sh up installs it`
        : namespaceProblem();

/**
 * Whether this host's kernel runs an ELF executable of `machine` by itself, through an enabled
 * binfmt_misc handler whose magic matches that machine's ELF header.
 */
function kernelRuns(machine: number): boolean {
  const root = "/proc/sys/fs/binfmt_misc";
  try {
    if (readFileSync(join(root, "status"), "utf8").trim() !== "enabled") return false;
    const wanted = Buffer.alloc(2);
    wanted.writeUInt16LE(machine);
    for (const entry of readdirSync(root)) {
      if (entry === "status" || entry === "register") continue;
      const lines = readFileSync(join(root, entry), "utf8").split("\n");
      const magic = lines.find((l) => l.startsWith("magic "))?.slice(6);
      const offset = lines.find((l) => l.startsWith("offset "))?.slice(7);
      // e_machine is bytes 18 and 19 of the header.
      if (lines[0] === "enabled" && (offset ?? "0") === "0" && magic?.startsWith("7f454c46")) {
        if (magic.slice(36, 40) === wanted.toString("hex")) return true;
      }
    }
  } catch {
    // no binfmt_misc here
  }
  return false;
}

const helloSource = `#include <stdio.h>
int main(int argc, char **argv) {
#if defined(__aarch64__)
  const char *machine = "aarch64";
#elif defined(__x86_64__)
  const char *machine = "x86_64";
#else
  const char *machine = "other";
#endif
  printf("%s %s\\n", machine, argc > 1 ? argv[1] : "");
  return 7;
}
`;

describe.skipIf(unavailable !== undefined && process.env.CI !== "true")(
  `cadre-agent-${foreign?.uname ?? "aarch64"} under ${qemuName}${unavailable ? ` - skipped: ${unavailable}` : ""}`,
  () => {
    let dir: string;
    let hello: string;
    let child: ReturnType<typeof spawn>;
    let exited: Promise<unknown>;
    let link: AgentLink;

    beforeAll(async () => {
      if (unavailable) throw new Error(unavailable);
      dir = mkdtempSync(join(tmpdir(), "cadre-foreign-agent-"));
      hello = join(dir, "hello");
      // A program of the emulated architecture, built as the agent is.
      writeFileSync(join(dir, "hello.c"), helloSource);
      execFileSync(compiler!, [
        "-std=c11",
        "-Os",
        "-s",
        "-static",
        "-o",
        hello,
        join(dir, "hello.c"),
      ]);
      expect(readElfInfo(hello)).toMatchObject({
        machine: foreign!.machine,
        staticExecutable: true,
      });
      child = spawn(unshare!, [...unshareArgs, qemu!, agent!], {
        stdio: ["pipe", "pipe", "inherit"],
      });
      exited = once(child, "exit");
      link = await AgentLink.open(child.stdout!, child.stdin!);
    });
    afterAll(async () => {
      // unshare's --kill-child takes the agent, and the namespace, with it.
      if (child && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      if (child) await exited;
      link?.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    async function run(argv: string[], extra: Partial<AgentExecRequest> = {}) {
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      const outcome = await link.exec({
        argv,
        env: hostEnv,
        maxOutputBytes: 16 * 1024 * 1024,
        onStdout: (c) => out.push(c),
        onStderr: (c) => err.push(c),
        ...extra,
      });
      return { ...outcome, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString() };
    }

    it("is a static executable of the other architecture, and greets as cadre-agent/1, PID 1", () => {
      expect(readElfInfo(agent!)).toMatchObject({
        machine: foreign!.machine,
        staticExecutable: true,
      });
      // AgentLink.open refuses any other greeting; qemu-user runs the agent in the process
      // unshare started, PID 1 of the new namespace.
      expect(link.agentPid).toBe(1);
    });

    it("refuses to start as a plain process there, where no kill could be verified", async () => {
      // qemu-user has no child subreaper: outside a PID namespace of its own, a command's
      // double-forked child would go to the host's init.
      const plain = spawn(qemu!, [agent!], { stdio: ["pipe", "pipe", "inherit"] });
      const gone = once(plain, "exit");
      const refused = await AgentLink.open(plain.stdout, plain.stdin).catch((e: unknown) => e);
      await gone;
      expect(refused).toBeInstanceOf(AgentRefusedError);
      expect((refused as AgentRefusedError).reason).toBe("subreaper");
    });

    it("runs a command: exit code, stdout and stderr apart, stdin byte for byte", async () => {
      const r = await run(["sh", "-c", "echo out; echo err >&2; exit 3"]);
      expect([r.exitCode, r.signal, r.stdout.toString(), r.stderr]).toEqual([
        3,
        0,
        "out\n",
        "err\n",
      ]);
      const input = Buffer.alloc(512 * 1024);
      for (let i = 0; i < input.length; i++) input[i] = (i * 7 + (i >> 11)) & 0xff;
      const cat = await run(["cat"], { stdin: input });
      expect(cat.exitCode).toBe(0);
      expect(cat.stdout.equals(input)).toBe(true);
    });

    it("runs several execs at once, each with its own result", async () => {
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, i) => run(["sh", "-c", `echo ${i}; exit ${i}`])),
      );
      expect(results.map((r) => [r.exitCode, r.stdout.toString()])).toEqual(
        Array.from({ length: 8 }, (_, i) => [i, `${i}\n`]),
      );
    });

    it("says 127 with ENOENT for a program that is not there", async () => {
      const missing = await run(["cadre-no-such-program"]);
      expect([missing.exitCode, missing.startErrno]).toEqual([127, 2]);
    });

    it("starts a program of its own architecture where the kernel can, else says 126 with ENOEXEC", async () => {
      const r = await run([hello, "from the agent"]);
      if (kernelRuns(foreign!.machine)) {
        expect([r.exitCode, r.stdout.toString()]).toEqual([
          7,
          `${foreign!.uname} from the agent\n`,
        ]);
      } else {
        // No binfmt_misc handler: the host kernel cannot run it (ENOEXEC, 8), and the agent says
        // so as it does for any program that cannot run.
        expect([r.exitCode, r.startErrno]).toEqual([126, 8]);
      }
      // The same program under qemu, started by the agent as a host program, runs.
      const emulated = await run([qemu!, hello, "under qemu"]);
      expect([emulated.exitCode, emulated.stdout.toString()]).toEqual([
        7,
        `${foreign!.uname} under qemu\n`,
      ]);
    });

    it("kills a command's whole tree at its deadline, setsid children included, and verifies it", async () => {
      const tag = `600.${randomBytes(4).readUInt32LE(0)}`;
      const r = await run(["sh", "-c", `setsid sleep ${tag} & (sleep ${tag} &); sleep ${tag}`], {
        timeoutMs: 1500,
      });
      expect([r.timedOut, r.exitCode, r.signal]).toEqual([true, 137, 9]);
      expect(r.killed).toEqual({ complete: true, survivors: 0 });
      expect(processesWith(tag)).toEqual([]);
    });

    it("stops on SIGTERM from outside its PID namespace, killing what still runs", async () => {
      const tag = `600.${randomBytes(4).readUInt32LE(0)}`;
      let ready: () => void = () => {};
      const started = new Promise<void>((resolve) => {
        ready = resolve;
      });
      const running = link
        .exec({
          argv: ["sh", "-c", `(sleep ${tag} &); echo ready; sleep ${tag}`],
          env: hostEnv,
          maxOutputBytes: 1024,
          onStdout: () => ready(),
        })
        .catch((e: unknown) => e);
      await started;
      expect(processesWith(tag).length).toBeGreaterThan(0);
      // The agent is unshare's only child: the emulated process, PID 1 inside.
      const children = readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, "utf8");
      const agentPid = Number(children.trim());
      expect(readFileSync(`/proc/${agentPid}/status`, "utf8")).toMatch(/^NSpid:\s+\d+\s+1$/m);
      process.kill(agentPid, "SIGTERM");
      const [code, signal] = (await exited) as [number | null, string | null];
      expect([code, signal]).toEqual([0, null]);
      await running;
      expect(processesWith(tag)).toEqual([]);
    });
  },
);
