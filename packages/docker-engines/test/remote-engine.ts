import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { guardCommands } from "@cadre/agent-runtime-provider-docker";
import type { EngineUnderTest } from "./engine-conformance.js";

const run = promisify(execFile);

/**
 * A Docker daemon of the test's own, reached as a remote one: over TLS on loopback with
 * certificates the test makes, and over SSH through an sshd of the test's own with a key the test
 * makes (its sessions' `docker system dial-stdio` reaches the daemon's Unix socket). It has its own
 * data root, exec root, pidfile, sockets and bridge, and touches no iptables rule of Docker's
 * (--iptables=false): the main daemon of the machine is never disturbed. The session network's
 * host guard is the operator's here (hostGuard "external"), so the test installs its three rules
 * for the daemon's bridge itself, and deletes them at the end.
 */
export interface RemoteEngine {
  tls: EngineUnderTest;
  ssh: EngineUnderTest;
  /** The daemon's own socket, to read the backend directly. */
  socketPath: string;
  stop(): Promise<void>;
}

const base = "/run/cadre-test/remote-docker";
const dataRoot = "/var/lib/cadre-test/dockerd-remote";
const socketPath = `${base}/docker.sock`;
const imageArchive = "/var/lib/cadre-test/busybox.tar";
const testImage = "cadre-test/busybox:1";
/** The bridge of the session network on this daemon: not the main daemon's cadre0. */
const bridge = "cadre-rem0";
const sessionNetwork = { name: "cadre-sessions-remote", bridge, hostGuard: "external" as const };

/** Why the remote-engine tests cannot run here (not root, a program missing), or undefined. */
export function remoteEngineMissing(): string | undefined {
  if (process.getuid?.() !== 0)
    return "the remote-engine tests start a dockerd and an sshd: run as root";
  for (const program of [
    "/usr/sbin/dockerd",
    "/usr/sbin/sshd",
    "/usr/bin/openssl",
    "/usr/bin/ssh-keygen",
  ]) {
    if (!existsSync(program)) return `${program} is missing (run \`bash scripts/services.sh up\`)`;
  }
  if (!existsSync(imageArchive))
    return `${imageArchive} is missing (run \`bash scripts/services.sh up\`)`;
  return undefined;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

/** Runs until `ready` resolves true, for at most `ms`; the child's own exit ends the wait. */
async function waitReady(
  what: string,
  child: ChildProcess,
  ready: () => Promise<boolean>,
  ms: number,
) {
  const deadline = Date.now() + ms;
  let exited: string | undefined;
  child.once("exit", (code, signal) => {
    exited = `${what} exited (${code ?? signal})`;
  });
  while (Date.now() < deadline) {
    if (exited) throw new Error(exited);
    if (await ready()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${what} was not ready within ${ms} ms`);
}

async function openssl(dir: string, ...args: string[]): Promise<void> {
  await run("openssl", args, { cwd: dir });
}

/** A CA, a server certificate for 127.0.0.1 and a client certificate, as Docker's docs make them. */
async function makeCertificates(dir: string): Promise<void> {
  await openssl(dir, "genrsa", "-out", "ca-key.pem", "2048");
  await openssl(
    dir,
    "req",
    "-new",
    "-x509",
    "-days",
    "2",
    "-key",
    "ca-key.pem",
    "-subj",
    "/CN=cadre test CA",
    "-out",
    "ca.pem",
  );
  for (const [name, ext] of [
    ["server", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n"],
    ["client", "extendedKeyUsage=clientAuth\n"],
  ] as const) {
    await openssl(dir, "genrsa", "-out", `${name}-key.pem`, "2048");
    await openssl(
      dir,
      "req",
      "-new",
      "-key",
      `${name}-key.pem`,
      "-subj",
      `/CN=cadre test ${name}`,
      "-out",
      `${name}.csr`,
    );
    await writeFile(join(dir, `${name}.ext`), ext);
    await openssl(
      dir,
      "x509",
      "-req",
      "-days",
      "2",
      "-in",
      `${name}.csr`,
      "-CA",
      "ca.pem",
      "-CAkey",
      "ca-key.pem",
      "-CAcreateserial",
      "-extfile",
      `${name}.ext`,
      "-out",
      `${name}-cert.pem`,
    );
  }
}

/** Starts the daemon (and, with `ssh`, an sshd in front of it); resolves once both answer. */
export async function startRemoteEngine(options: { ssh: boolean }): Promise<RemoteEngine> {
  const dir = await mkdtemp(join(tmpdir(), "cadre-remote-"));
  const children: ChildProcess[] = [];
  const guard = guardCommands(bridge);
  let guarded = false;
  const stop = async () => {
    for (const child of children.reverse()) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
      await exited;
      clearTimeout(timer);
    }
    if (guarded) {
      for (const command of guard) {
        await run("sh", ["-c", command.replace(/ -I (\S+) 1 /, " -D $1 ")]).catch(() => {});
      }
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await makeCertificates(dir);
    const port = await freePort();
    await mkdir(base, { recursive: true });
    await writeFile(
      join(dir, "daemon.json"),
      JSON.stringify({ runtimes: { crun: { path: "/usr/bin/crun" } } }),
    );
    const dockerdArgs = [
      "--config-file",
      join(dir, "daemon.json"),
      "--data-root",
      dataRoot,
      "--exec-root",
      `${base}/exec`,
      "--pidfile",
      `${base}/dockerd.pid`,
      "--containerd-namespace",
      "cadre-remote",
      "--containerd-plugins-namespace",
      "cadre-remote-plugins",
      "--bridge=none",
      "--iptables=false",
      "--ip-masq=false",
      "--userland-proxy=false",
      "--cgroup-parent",
      "cadre-remote",
      "-H",
      `unix://${socketPath}`,
      "-H",
      `tcp://127.0.0.1:${port}`,
      "--tlsverify",
      "--tlscacert",
      join(dir, "ca.pem"),
      "--tlscert",
      join(dir, "server-cert.pem"),
      "--tlskey",
      join(dir, "server-key.pem"),
    ];
    const docker = (...args: string[]) => run("docker", ["-H", `unix://${socketPath}`, ...args]);
    const launchDockerd = async (): Promise<ChildProcess> => {
      const dockerd = spawn("dockerd", dockerdArgs, { stdio: ["ignore", "ignore", "pipe"] });
      children.push(dockerd);
      let log = "";
      dockerd.stderr?.on("data", (chunk: Buffer) => {
        log = (log + chunk.toString()).slice(-4000);
      });
      await waitReady(
        "dockerd",
        dockerd,
        () =>
          docker("version").then(
            () => true,
            () => false,
          ),
        60_000,
      ).catch((error: Error) => {
        throw new Error(`${error.message}: ${log}`);
      });
      return dockerd;
    };
    let dockerd = await launchDockerd();
    // The daemon stopped and started again, as an operator's restart or an upgrade does: without
    // live-restore it stops every container on the way down.
    const restart = async () => {
      const exited = new Promise((resolve) => dockerd.once("exit", resolve));
      dockerd.kill("SIGTERM");
      await exited;
      dockerd = await launchDockerd();
    };
    if (
      !(await docker("image", "inspect", testImage).then(
        () => true,
        () => false,
      ))
    ) {
      await docker("load", "-i", imageArchive);
    }
    for (const command of guard) await run("sh", ["-c", command]);
    guarded = true;
    const tls: EngineUnderTest = {
      name: "remote over TLS",
      restart,
      options: {
        host: "127.0.0.1",
        port,
        tls: {
          ca: join(dir, "ca.pem"),
          cert: join(dir, "client-cert.pem"),
          key: join(dir, "client-key.pem"),
        },
        sessionNetwork,
      },
    };
    let ssh: EngineUnderTest = { name: "remote over SSH", options: {}, missing: "not started" };
    if (options.ssh) {
      const sshPort = await freePort();
      await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(dir, "host_ed25519")]);
      await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(dir, "client_ed25519")]);
      const hostKey = (await readFile(join(dir, "host_ed25519.pub"), "utf8")).split(" ");
      await writeFile(
        join(dir, "known_hosts"),
        `[127.0.0.1]:${sshPort} ${hostKey[0]} ${hostKey[1]}\n`,
      );
      await writeFile(
        join(dir, "authorized_keys"),
        await readFile(join(dir, "client_ed25519.pub")),
      );
      await writeFile(
        join(dir, "sshd_config"),
        [
          `Port ${sshPort}`,
          "ListenAddress 127.0.0.1",
          `HostKey ${join(dir, "host_ed25519")}`,
          `AuthorizedKeysFile ${join(dir, "authorized_keys")}`,
          `PidFile ${join(dir, "sshd.pid")}`,
          "PermitRootLogin prohibit-password",
          "PasswordAuthentication no",
          "KbdInteractiveAuthentication no",
          "UsePAM no",
          "StrictModes no",
          // Every API request is a connection of its own (docker-modem's SSH agent).
          "MaxStartups 200:30:400",
          "MaxSessions 200",
          "LogLevel ERROR",
          `SetEnv DOCKER_HOST=unix://${socketPath}`,
          "",
        ].join("\n"),
      );
      await mkdir("/run/sshd", { recursive: true });
      const sshd = spawn("/usr/sbin/sshd", ["-D", "-e", "-f", join(dir, "sshd_config")], {
        stdio: ["ignore", "ignore", "pipe"],
      });
      children.push(sshd);
      let sshdLog = "";
      sshd.stderr?.on("data", (chunk: Buffer) => {
        sshdLog = (sshdLog + chunk.toString()).slice(-4000);
      });
      const sshReady = () =>
        run("ssh", [
          "-p",
          String(sshPort),
          "-i",
          join(dir, "client_ed25519"),
          "-o",
          `UserKnownHostsFile=${join(dir, "known_hosts")}`,
          "-o",
          "StrictHostKeyChecking=yes",
          "-o",
          "BatchMode=yes",
          "root@127.0.0.1",
          "docker version --format '{{.Server.Version}}'",
        ]).then(
          () => true,
          () => false,
        );
      await waitReady("sshd", sshd, sshReady, 30_000).catch((error: Error) => {
        throw new Error(`${error.message}: ${sshdLog}`);
      });
      ssh = {
        name: "remote over SSH",
        // Every Engine API request is an SSH connection of its own (docker-modem's SSH agent).
        timeScale: 3,
        options: {
          host: "127.0.0.1",
          port: sshPort,
          ssh: {
            user: "root",
            privateKey: join(dir, "client_ed25519"),
            knownHosts: join(dir, "known_hosts"),
          },
          sessionNetwork,
        },
      };
    }
    return { tls, ssh, socketPath, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
