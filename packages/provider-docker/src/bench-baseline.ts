import { once } from "node:events";
import { basename, posix } from "node:path";
import { Readable } from "node:stream";
import type { IsolationPolicy, IsolationProvider } from "@cadre/agent-runtime-contract";
import type {
  BenchBaselineInput,
  BenchEngine,
  BenchTools,
  FilesContender,
  SandboxLifecycle,
} from "@cadre/agent-runtime-provider-utils";
import Docker from "dockerode";
import { dockerConnection } from "./connection.js";
import type { DockerProviderOptions } from "./options.js";

/**
 * `cadre-runtime bench`'s baseline for Docker: the bare dockerode sequence (create+start / exec
 * create+start+inspect) and the docker CLI (run -d / exec), on the provider's daemon. It calls
 * dockerode itself, not DockerClient, on purpose: dockerode is what it measures. The descriptor
 * imports this module lazily, so the provider never loads it.
 *
 * The baselines create containers as sessions were made before cadre-agent: `sleep infinity`
 * under Docker's init, with the same hardening (no capabilities, no-new-privileges) and, like the
 * bench's policy (networkIsolation), no network. Their idle memory is the baseline of ours.
 */
export async function dockerBenchBaseline({
  provider,
  policy,
  options,
  labels,
  tools,
}: BenchBaselineInput<DockerProviderOptions>): Promise<BenchEngine> {
  const connection = dockerConnection(options);
  if (!("socketPath" in connection)) {
    throw tools.usageError(
      "bench measures Docker over its unix socket; set socketPath (or a unix:// DOCKER_HOST), not a remote host",
    );
  }
  const { socketPath } = connection;
  const runtime = options.runtime ?? "runc";
  const docker = new Docker({ socketPath });
  const image = await sessionImage(docker, provider, policy);
  const cliHost = ["--host", `unix://${socketPath}`];
  const labelPairs = Object.entries(labels).map(([key, value]) => `${key}=${value}`);

  const api: SandboxLifecycle = {
    async start() {
      const container = await docker.createContainer({
        Image: image,
        Entrypoint: ["sleep"],
        Cmd: ["infinity"],
        Labels: { ...labels },
        HostConfig: {
          Runtime: runtime,
          Init: true,
          CapDrop: ["ALL"],
          SecurityOpt: ["no-new-privileges"],
          NetworkMode: "none",
          IpcMode: "private",
          LogConfig: { Type: "none", Config: {} },
        },
      });
      await container.start();
      return container.id;
    },
    async destroy(id) {
      await docker.getContainer(id).remove({ force: true, v: true });
    },
  };
  const cli: SandboxLifecycle = {
    start: () =>
      tools.runCli("docker", [
        ...cliHost,
        "run",
        "-d",
        ...labelPairs.flatMap((pair) => ["--label", pair]),
        "--runtime",
        runtime,
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
      ]),
    async destroy(id) {
      await tools.runCli("docker", [...cliHost, "rm", "-f", "-v", id]);
    },
  };
  const baselines = [
    tools.sandboxContender({
      name: "dockerode",
      kind: "api",
      sandbox: api,
      async runTrue(id) {
        const exitCode = await dockerodeExec(docker.getContainer(id), ["true"]);
        if (exitCode !== 0) throw new Error(`true exited ${exitCode}`);
      },
    }),
    tools.sandboxContender({
      name: "docker CLI",
      kind: "cli",
      sandbox: cli,
      async runTrue(id) {
        await tools.runCli("docker", [...cliHost, "exec", id, "true"]);
      },
    }),
  ];

  // Sessions and the baselines' sandboxes are both containers, found by id or name.
  const containerMemory = async (ids: string[]) => {
    const pids: number[] = [];
    for (const id of ids) {
      const info = await docker.getContainer(id).inspect();
      if (info.State.Pid > 0) pids.push(info.State.Pid);
    }
    return tools.sandboxMemory(pids);
  };

  return {
    label: `docker (${runtime})`,
    baselines,
    filesBaselines: copyBaselines(docker, api, cli, cliHost, tools),
    targets: tools.engineTargets((await provider.capabilities()).isolation),
    idleMemory: containerMemory,
    baselineIdleMemory: containerMemory,
    async cleanup() {
      const left = await docker.listContainers({ all: true, filters: { label: labelPairs } });
      await Promise.allSettled(left.map((c) => api.destroy(c.Id)));
      return left.length;
    },
    async close() {},
  };
}

/**
 * Docker's own ways of copying files into a container and out: the archive API through dockerode
 * (putArchive with the same tar `cadre-runtime cp` sends, getArchive extracted by the same code),
 * and `docker cp`. Each copies into a directory of the container's root file system, as ours does.
 */
function copyBaselines(
  docker: Docker,
  api: SandboxLifecycle,
  cli: SandboxLifecycle,
  cliHost: string[],
  tools: BenchTools,
): FilesContender[] {
  const run = async (id: string, argv: string[]) => {
    const exitCode = await dockerodeExec(docker.getContainer(id), argv);
    if (exitCode !== 0) throw new Error(`${argv.join(" ")} exited ${exitCode}`);
  };
  const dockerCli = (args: string[]) => tools.runCli("docker", [...cliHost, ...args]);
  return [
    {
      name: "dockerode archive",
      kind: "api",
      sandbox: api,
      makeDirectory: (id, path) => run(id, ["mkdir", "-p", path]),
      async copyIn(id, from, dir) {
        const archive = Readable.from(tools.packLocal(from, basename(from)));
        await docker.getContainer(id).putArchive(archive, { path: dir });
      },
      async copyOut(id, path, dir) {
        const archive = (await docker.getContainer(id).getArchive({ path })) as Readable;
        await tools.extractToLocal(archive, dir, posix.basename(path));
      },
      remove: (id, path) => run(id, ["rm", "-rf", path]),
    },
    {
      name: "docker cp",
      kind: "cli",
      sandbox: cli,
      async makeDirectory(id, path) {
        await dockerCli(["exec", id, "mkdir", "-p", path]);
      },
      async copyIn(id, from, dir) {
        await dockerCli(["cp", from, `${id}:${dir}`]);
      },
      async copyOut(id, path, dir) {
        await dockerCli(["cp", `${id}:${path}`, dir]);
      },
      async remove(id, path) {
        await dockerCli(["exec", id, "rm", "-rf", path]);
      },
    },
  ];
}

/** The image the provider's sessions use: read from one session's container. */
async function sessionImage(
  docker: Docker,
  provider: IsolationProvider,
  policy: IsolationPolicy,
): Promise<string> {
  const id = await provider.startSession(policy);
  try {
    return (await docker.getContainer(id).inspect()).Config.Image;
  } finally {
    await provider.destroySession(id);
  }
}

/** exec create, start (attached), read to the end, inspect: the bare API sequence. */
async function dockerodeExec(container: Docker.Container, argv: string[]): Promise<number> {
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
