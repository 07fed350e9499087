import type { IsolationPolicy, IsolationProvider } from "@cadre/agent-runtime-contract";
import type {
  BenchBaselineInput,
  BenchEngine,
  Contender,
  SandboxLifecycle,
} from "@cadre/agent-runtime-provider-utils";
import { ContainerdClient } from "./containerd/client.js";
import { type KataProviderOptions, resolveOptions } from "./options.js";

const processTypeUrl = "types.containerd.io/opencontainers/runtime-spec/1/Process";
const noStdio = { stdin: "", stdout: "", stderr: "" };
const SIGKILL = 9;

/**
 * PID 1 of the bare sandboxes: what a session's was before cadre-agent, a shell that sleeps
 * forever and reaps orphans as it waits (containerd has no init of its own).
 */
const preAgentMainArgs = [
  "/bin/sh",
  "-c",
  "trap 'exit 0' TERM; while :; do sleep 3600 & wait; done",
];
const noCapabilities = {
  bounding: [],
  effective: [],
  inheritable: [],
  permitted: [],
  ambient: [],
};

interface Template {
  image: string;
  runtime: { name: string; options?: unknown } | null;
  snapshotter: string;
  parent: string;
  spec: Record<string, unknown> & { process: Record<string, unknown> };
  sessionId: string;
}

/**
 * `cadre-runtime bench`'s baseline for containerd: the bare gRPC sequence through this package's
 * ContainerdClient (lease, snapshot, container, task / Exec+Wait+Start+DeleteProcess, output read
 * through named pipes made ahead), and `ctr task exec`. The bare sequence reuses the spec,
 * runtime and snapshot parent of a session the provider made, so it starts the same sandbox
 * minus the provider's bookkeeping, with the process a session ran before cadre-agent: the
 * sleeping shell above, with no capabilities. Its idle memory is the baseline of ours. The
 * descriptor imports this module lazily, so the provider never loads it.
 */
export async function kataBenchBaseline({
  provider,
  policy,
  options,
  runId,
  labels,
  tools,
}: BenchBaselineInput<KataProviderOptions>): Promise<BenchEngine> {
  // The provider's own defaults: $CONTAINERD_ADDRESS, namespace "cadre", Kata's runtime.
  const resolved = resolveOptions(options);
  const { address, namespace } = resolved;
  const report = await provider.capabilities();
  const client = new ContainerdClient({ address, namespace });
  const template = await readTemplate(client, provider, policy);
  let counter = 0;
  const nextId = (what: string) => `bench-${runId}-${what}-${++counter}`;

  // Every bare process (PID 1 and each exec) as a session's was before the agent.
  const bareProcess = { ...template.spec.process, capabilities: noCapabilities };
  const apiStart = async () => {
    const id = nextId("c");
    await client.createLease(id, labels);
    const mounts = await client.prepareSnapshot(template.snapshotter, id, template.parent, labels, {
      lease: id,
    });
    const spec = JSON.parse(
      JSON.stringify({
        ...template.spec,
        process: { ...bareProcess, args: preAgentMainArgs },
      }).replaceAll(template.sessionId, id),
    ) as Template["spec"];
    await client.createContainer(
      {
        id,
        labels,
        image: template.image,
        runtime: template.runtime as never,
        spec: {
          type_url: "types.containerd.io/opencontainers/runtime-spec/1/Spec",
          value: Buffer.from(JSON.stringify(spec)),
        },
        snapshotter: template.snapshotter,
        snapshot_key: id,
      },
      { lease: id },
    );
    await client.createTask(id, mounts, noStdio);
    await client.startProcess(id);
    return id;
  };
  const apiDestroy = async (id: string) => {
    const quiet = (p: Promise<unknown>) => p.catch(() => undefined);
    await quiet(client.kill(id, SIGKILL, { all: true }));
    await quiet(client.wait(id));
    await quiet(client.deleteTask(id));
    await quiet(client.deleteContainer(id));
    await quiet(client.removeSnapshot(template.snapshotter, id));
    await quiet(client.deleteLease(id));
  };

  const fifos = await tools.premadeFifos();
  const runTrue = async (id: string) => {
    const execId = nextId("e");
    const spec = { ...bareProcess, args: ["true"] };
    const stdio = await fifos.open();
    try {
      await client.exec(id, execId, stdio.paths, {
        type_url: processTypeUrl,
        value: Buffer.from(JSON.stringify(spec)),
      });
      try {
        const exited = client.wait(id, execId);
        await client.startProcess(id, execId);
        const status = await exited;
        await stdio.ended;
        if (status !== 0) throw new Error(`true exited ${status}`);
      } finally {
        await client.deleteProcess(id, execId).catch(() => undefined);
      }
    } finally {
      stdio.close();
    }
  };
  const bare: SandboxLifecycle = { start: apiStart, destroy: apiDestroy };
  const api: Contender = {
    ...tools.sandboxContender({ name: "containerd gRPC", kind: "api", sandbox: bare, runTrue }),
    // Two pipes per exec, made before the phase (a Go client makes each in microseconds).
    prepare: (execs) => fifos.reserve(execs * 2),
  };

  const ctr = ["--address", address, "--namespace", namespace];
  const cli: Contender = {
    name: "ctr CLI",
    kind: "cli",
    exec: tools.execInOneSandbox(bare, async (id) => {
      await tools.runCli("ctr", [...ctr, "task", "exec", "--exec-id", nextId("x"), id, "true"]);
    }),
  };

  // Sessions and the bare sandboxes are both containerd containers with a task of that id.
  const taskMemory = async (ids: string[]) => {
    const pids: number[] = [];
    for (const id of ids) {
      const pid = (await client.getProcess(id)).pid;
      if (pid > 0) pids.push(pid);
    }
    return tools.sandboxMemory(pids);
  };

  return {
    label: /stand-in/.test(report.variant ?? "")
      ? "kata (stand-in shim, no VM)"
      : `kata (${report.variant ?? resolved.runtime})`,
    baselines: [api, cli],
    // No files baselines: nothing to call.
    filesNote:
      "containerd has no copy API (nothing like Docker's putArchive or getArchive, and ctr has no cp): a bare client would exec a tar of the image in the sandbox; ours is shown alone",
    targets: tools.engineTargets(report.isolation),
    idleMemory: taskMemory,
    baselineIdleMemory: taskMemory,
    async cleanup() {
      const filter = Object.entries(labels)
        .map(([key, value]) => `labels."${key}"==${value}`)
        .join(",");
      const left = await client.listContainers([filter]);
      await Promise.allSettled(left.map((c) => apiDestroy(c.id)));
      return left.length;
    },
    async close() {
      client.close();
      await fifos.dispose();
    },
  };
}

/** The container of one session the provider made, read back from containerd. */
async function readTemplate(
  client: ContainerdClient,
  provider: IsolationProvider,
  policy: IsolationPolicy,
): Promise<Template> {
  const sessionId = await provider.startSession(policy);
  try {
    const container = await client.getContainer(sessionId);
    if (!container.spec) throw new Error(`container ${sessionId} has no spec`);
    const info = await client.statSnapshot(container.snapshotter, container.snapshot_key);
    return {
      image: container.image,
      runtime: container.runtime,
      snapshotter: container.snapshotter,
      parent: info.parent,
      spec: JSON.parse(container.spec.value.toString("utf8")) as Template["spec"],
      sessionId,
    };
  } finally {
    await provider.destroySession(sessionId);
  }
}
