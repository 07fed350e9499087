import { once } from "node:events";
import type { Readable } from "node:stream";
import type { IsolationPolicy, IsolationProvider } from "@cadre/agent-runtime-contract";
import type Docker from "dockerode";
import { type BenchEngine, type Contender, execInOneSandbox } from "../contender.js";
import { sandboxMemory } from "../memory.js";
import { benchRunLabel } from "../run-labels.js";
import { agentExecTargets } from "../target-checks.js";
import { runCli } from "./cli-process.js";
import { oursContender } from "./ours.js";

export interface DockerBenchOptions {
  provider: IsolationProvider;
  policy: IsolationPolicy;
  runId: string;
  runtime: "runc" | "runsc" | "crun";
  socketPath: string;
}

/**
 * Docker: cadre's provider, the bare dockerode sequence (create+start / exec create+start+inspect)
 * and the docker CLI (run -d / exec), all on the same daemon. The baselines create containers
 * as sessions were made before cadre-agent: `sleep infinity` under Docker's init, with the same
 * hardening (no capabilities, no-new-privileges) and, like the bench's policy
 * (networkIsolation), no network. Their idle memory is the baseline of ours.
 */
export async function dockerEngine(options: DockerBenchOptions): Promise<BenchEngine> {
  const { default: DockerClient } = await import("dockerode");
  const docker = new DockerClient({ socketPath: options.socketPath });
  const image = await sessionImage(options, docker);
  const labels = { [benchRunLabel]: options.runId };
  const cliEnv = ["--host", `unix://${options.socketPath}`];

  const spec = (): Docker.ContainerCreateOptions => ({
    Image: image,
    Entrypoint: ["sleep"],
    Cmd: ["infinity"],
    Labels: labels,
    HostConfig: {
      Runtime: options.runtime,
      Init: true,
      CapDrop: ["ALL"],
      SecurityOpt: ["no-new-privileges"],
      NetworkMode: "none",
      IpcMode: "private",
      LogConfig: { Type: "none", Config: {} },
    },
  });
  const apiStart = async () => {
    const container = await docker.createContainer(spec());
    await container.start();
    return container.id;
  };
  const apiDestroy = async (id: string) => {
    await docker.getContainer(id).remove({ force: true, v: true });
  };

  const apiTrue = async (id: string) => {
    const exitCode = await dockerodeExec(docker.getContainer(id), ["true"]);
    if (exitCode !== 0) throw new Error(`true exited ${exitCode}`);
  };
  const api: Contender = {
    name: "dockerode",
    kind: "api",
    lifecycle: { start: apiStart, destroy: apiDestroy },
    firstExec: apiTrue,
    exec: execInOneSandbox({ start: apiStart, destroy: apiDestroy }, apiTrue),
  };

  const cliStart = () =>
    runCli("docker", [
      ...cliEnv,
      "run",
      "-d",
      "--label",
      `${benchRunLabel}=${options.runId}`,
      "--runtime",
      options.runtime,
      "--init",
      "--cap-drop",
      "ALL",
      "--security-opt",
      "no-new-privileges",
      "--network",
      "none",
      "--ipc",
      "private",
      "--log-driver",
      "none",
      "--entrypoint",
      "sleep",
      image,
      "infinity",
    ]);
  const cliDestroy = async (id: string) => {
    await runCli("docker", [...cliEnv, "rm", "-f", "-v", id]);
  };
  const cliTrue = async (id: string) => {
    await runCli("docker", [...cliEnv, "exec", id, "true"]);
  };
  const cli: Contender = {
    name: "docker CLI",
    kind: "cli",
    lifecycle: { start: cliStart, destroy: cliDestroy },
    firstExec: cliTrue,
    exec: execInOneSandbox({ start: cliStart, destroy: cliDestroy }, cliTrue),
  };

  // Sessions and the baselines' sandboxes are both containers, found by id or name.
  const containerMemory = async (ids: string[]) => {
    const pids: number[] = [];
    for (const id of ids) {
      const info = await docker.getContainer(id).inspect();
      if (info.State.Pid > 0) pids.push(info.State.Pid);
    }
    return sandboxMemory(pids);
  };

  return {
    label: `docker (${options.runtime})`,
    contenders: [oursContender(options.provider, options.policy), api, cli],
    targets: agentExecTargets((await options.provider.capabilities()).isolation),
    idleMemory: containerMemory,
    baselineIdleMemory: containerMemory,
    async cleanup() {
      const left = await docker.listContainers({
        all: true,
        filters: { label: [`${benchRunLabel}=${options.runId}`] },
      });
      await Promise.allSettled(left.map((c) => apiDestroy(c.Id)));
      return left.length;
    },
    async close() {},
  };
}

/** The image the provider's sessions use: read from one session's container. */
async function sessionImage(options: DockerBenchOptions, docker: Docker): Promise<string> {
  const id = await options.provider.startSession(options.policy);
  try {
    return (await docker.getContainer(id).inspect()).Config.Image;
  } finally {
    await options.provider.destroySession(id);
  }
}

/** exec create, start (attached), read to the end, inspect: the bare API sequence. */
export async function dockerodeExec(container: Docker.Container, argv: string[]): Promise<number> {
  const exec = await container.exec({
    Cmd: argv,
    AttachStdout: true,
    AttachStderr: true,
    Tty: false,
  });
  const stream = (await exec.start({ hijack: false, Detach: false, Tty: false })) as Readable;
  stream.resume();
  await Promise.race([once(stream, "end"), once(stream, "close")]);
  for (let attempt = 0; attempt < 100; attempt++) {
    const info = await exec.inspect();
    if (!info.Running && typeof info.ExitCode === "number") return info.ExitCode;
  }
  throw new Error("Docker never recorded the exec's exit code");
}
